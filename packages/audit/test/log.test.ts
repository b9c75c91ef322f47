import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as path from 'node:path';
import { log, formatLog, logJsonl } from '@codemate-txn/audit';
import { isTxnError } from '@codemate-txn/core';
import { buildDemo } from './helpers/demo-journal.js';
import { tempDir } from './helpers/temp-tree.js';

const d = buildDemo();
const ids = (opts: Omit<Parameters<typeof log>[0], 'target'> = {}): number[] => log({ target: d.target, ...opts }).map((t) => t.id);

function throwsCode(fn: () => unknown, code: string, message?: RegExp): void {
  try {
    fn();
  } catch (e: unknown) {
    assert.ok(isTxnError(e), `expected a TxnError, got ${String(e)}`);
    assert.is(e.code, code);
    assert.is(e.exitCode, 2);
    if (message) assert.match(e.message, message);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

test('log lists transactions newest first with their facts', () => {
  const rows = log({ target: d.target });
  assert.equal(rows.map((t) => [t.id, t.kind, t.fromVersion, t.toVersion, t.state]), [
    [d.ids.failed, 'update', '2.0.0', '3.0.0', 'rolled_back'],
    [d.ids.update, 'update', '1.0.0', '2.0.0', 'done'],
    [d.ids.install, 'install', null, '1.0.0', 'done'],
  ]);
  assert.is(rows[0]?.errorCode, 'E_STAGE_VERIFY');
  assert.is(rows[1]?.startedAt, '2024-05-02T10:00:00.000Z');
  assert.is(rows[1]?.finishedAt, '2024-05-02T10:00:03.510Z');
  assert.is(rows[1]?.user, 'ci');
});

test('log filters by state', () => {
  assert.equal(ids({ state: 'done' }), [2, 1]);
  assert.equal(ids({ state: 'rolled_back' }), [3]);
  assert.equal(ids({ state: 'applying' }), []);
});

test('log filters by start time: ISO times, whole UTC days, Dates and ages', () => {
  assert.equal(ids({ since: '2024-05-02T10:00:00Z' }), [3, 2]);
  assert.equal(ids({ since: '2024-05-02T10:00:00.001Z' }), [3]);
  assert.equal(ids({ since: '2024-05-02' }), [3, 2]);
  assert.equal(ids({ until: '2024-05-02' }), [2, 1], 'a date alone as --until includes that whole day');
  assert.equal(ids({ since: '2024-05-02', until: '2024-05-02' }), [2]);
  assert.equal(ids({ until: new Date('2024-05-01T10:00:00Z') }), [1]);
  assert.equal(ids({ since: '36h', now: new Date('2024-05-03T12:00:00Z') }), [3, 2]);
  assert.equal(ids({ since: '1w', now: new Date('2024-05-03T12:00:00Z') }), [3, 2, 1]);
});

test('log limits to the newest N, after filtering', () => {
  assert.equal(ids({ limit: 1 }), [3]);
  assert.equal(ids({ state: 'done', limit: 1 }), [2]);
  assert.equal(ids({ limit: 10 }), [3, 2, 1]);
});

test('log refuses bad filters with E_USAGE (exit 2) naming the flag and the value', () => {
  throwsCode(() => log({ target: d.target, state: 'finished' }), 'E_USAGE', /--state: expected one of staging, .*; found 'finished'/);
  throwsCode(() => log({ target: d.target, since: 'yesterday' }), 'E_USAGE', /--since: expected an ISO-8601 time .*; found 'yesterday'/);
  throwsCode(() => log({ target: d.target, until: '2024-13-45' }), 'E_USAGE', /--until/);
  throwsCode(() => log({ target: d.target, limit: 0 }), 'E_USAGE', /--limit: expected a positive whole number; found '0'/);
  throwsCode(() => log({ target: d.target, limit: 1.5 }), 'E_USAGE', /--limit/);
});

test('log without a journal is E_NOT_FOUND (exit 2)', () => {
  throwsCode(() => log({ target: path.join(tempDir(), 'none') }), 'E_NOT_FOUND', /no journal at .*none\.journal\.db/);
});

test('logJsonl writes one parseable object per transaction, per line', () => {
  const rows = log({ target: d.target });
  const text = logJsonl(rows);
  assert.ok(text.endsWith('\n'));
  const lines = text.split('\n').slice(0, -1);
  assert.is(lines.length, 3);
  assert.equal(lines.map((l) => JSON.parse(l) as unknown), JSON.parse(JSON.stringify(rows)) as unknown);
  assert.is(logJsonl([]), '');
});

test('formatLog is a table with versions, durations and errors', () => {
  const text = formatLog(log({ target: d.target }));
  const lines = text.split('\n');
  assert.match(lines[0] ?? '', /^ID\s+STARTED\s+KIND\s+APP\s+VERSION\s+STATE\s+TOOK\s+ERROR$/);
  assert.match(lines[1] ?? '', /^3\s+2024-05-03T10:00:00\.000Z\s+update\s+demo\s+2\.0\.0 → 3\.0\.0\s+rolled_back\s+510ms\s+E_STAGE_VERIFY: staged index\.js/);
  assert.match(lines[2] ?? '', /^2\s+.*1\.0\.0 → 2\.0\.0\s+done\s+3\.5s$/);
  assert.match(lines[3] ?? '', /^1\s+.*install\s+demo\s+→ 1\.0\.0\s+done\s+2\.0s$/);
  assert.is(formatLog([]), 'no transactions');
});

test.run();
