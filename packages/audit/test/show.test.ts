import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { show, formatShow } from '@codemate-txn/audit';
import { isTxnError } from '@codemate-txn/core';
import { buildDemo } from './helpers/demo-journal.js';

const d = buildDemo();

test('show returns the transaction, its ops in order and their counts', () => {
  const r = show({ target: d.target, txnId: d.ids.update });
  assert.is(r.txn.id, d.ids.update);
  assert.is(r.txn.toVersion, '2.0.0');
  assert.equal(r.ops.map((o) => o.seq), Array.from({ length: 14 }, (_, i) => i + 1));
  assert.equal(r.ops.filter((o) => o.phase === 'apply').map((o) => `${o.kind} ${o.action} ${o.path}`), [
    'rename backup index.js',
    'rename replace index.js',
    'mkdir install lib/v2',
    'rename install lib/v2/a.js',
    'rename backup lib/current',
    'symlink replace lib/current',
    'rename remove lib/v1/a.js',
    'rmdir remove lib/v1',
    'write version .codemate-version',
  ]);
  assert.equal(r.counts, {
    ops: 14,
    byState: { pending: 0, done: 14, undone: 0, skipped: 0, failed: 0 },
    byPhase: { stage: 3, apply: 9, cleanup: 2, undo: 0, redo: 0 },
    byAction: { stage: 3, backup: 2, replace: 2, install: 2, remove: 2, version: 1, cleanup: 2 },
    planned: { unchanged: 3, preserved: 1, replace: 2, install: 1 },
    bytesStaged: 22,
    durationMs: 3510,
  });
});

test('show of a failed transaction carries its error and the failed op', () => {
  const r = show({ target: d.target, txnId: String(d.ids.failed) });
  assert.is(r.txn.state, 'rolled_back');
  assert.is(r.txn.errorCode, 'E_STAGE_VERIFY');
  const failed = r.ops.filter((o) => o.state === 'failed');
  assert.is(failed.length, 1);
  assert.match(failed[0]?.error ?? '', /does not match the manifest/);
  assert.equal(r.counts.byState, { pending: 0, done: 1, undone: 1, skipped: 0, failed: 1 });
  assert.is(r.counts.bytesStaged, 0);
  const text = formatShow(r);
  assert.match(text, /^transaction\s+3 \(update demo 2\.0\.0 → 3\.0\.0\)$/m);
  assert.match(text, /^error\s+E_STAGE_VERIFY: staged index\.js does not match/m);
  assert.match(text, /^2\s+stage\s+write\s+stage\s+failed\s+index\.js\s+19\s+2024-05-03T10:00:00\.010Z\s+300ms\s+staged index\.js/m);
  assert.match(text, /3 ops \(1 done, 1 undone, 1 failed\)/);
});

test('formatShow names the transaction, who ran it and every op', () => {
  const text = formatShow(show({ target: d.target, txnId: d.ids.update }));
  assert.match(text, /^by\s+ci@build-host pid 4242, codemate-txn 0\.1\.0$/m);
  assert.match(text, /^manifest\s+https:\/\/example\.test\/demo\/2\.0\.0\/manifest\.json \(sha256 [0-9a-f]{64}\)$/m);
  assert.match(text, /^SEQ\s+PHASE\s+KIND\s+ACTION\s+STATE\s+PATH\s+BYTES\s+AT\s+TOOK\s+ERROR$/m);
  assert.match(text, /^1\s+stage\s+mkdir\s+stage\s+done\s+\/\S+\/app\.staging\s/m, 'path "" is shown as the directory it acts on');
  assert.match(text, /^14 ops \(14 done\); files: .*; staged 22 B$/m);
  assert.match(text, /^started\s+2024-05-02T10:00:00\.000Z\ncommitted\s+2024-05-02T10:00:02\.510Z\nfinished\s+2024-05-02T10:00:03\.510Z$/m);
  const r = show({ target: d.target, txnId: d.ids.update });
  assert.ok(text.includes(`\nchain        ${r.txn.chainSeq}:${r.txn.hash}\n`), 'its place in the hash chain, usable as an anchor');
});

test('show --json carries who ran it, the manifest, the commit time and the chain hash of the txn and its ops', () => {
  const r = show({ target: d.target, txnId: d.ids.update });
  assert.equal([r.txn.user, r.txn.host, r.txn.pid, r.txn.toolVersion], ['ci', 'build-host', 4242, '0.1.0']);
  assert.is(r.txn.manifestSource, 'https://example.test/demo/2.0.0/manifest.json');
  assert.match(r.txn.manifestSha256, /^[0-9a-f]{64}$/);
  assert.is(r.txn.committedAt, '2024-05-02T10:00:02.510Z');
  assert.match(r.txn.hash ?? '', /^[0-9a-f]{64}$/);
  assert.ok(r.ops.every((o) => /^[0-9a-f]{64}$/.test(o.hash ?? '')));
  const f = show({ target: d.target, txnId: d.ids.failed });
  assert.is(f.txn.committedAt, null);
});

test('show of an unknown id is E_NOT_FOUND (exit 2) and says which ids exist', () => {
  try {
    show({ target: d.target, txnId: 99 });
    assert.unreachable('should throw');
  } catch (e: unknown) {
    assert.ok(isTxnError(e));
    assert.is(e.code, 'E_NOT_FOUND');
    assert.is(e.exitCode, 2);
    assert.match(e.message, /^no transaction 99 in .*app\.journal\.db$/);
    assert.match(e.hint ?? '', /ids run from 1 to 3/);
  }
});

test('show of something that is not an id is E_USAGE (exit 2)', () => {
  for (const bad of ['abc', '0', '-1', '1.5', '']) {
    try {
      show({ target: d.target, txnId: bad });
      assert.unreachable(`should throw for '${bad}'`);
    } catch (e: unknown) {
      assert.ok(isTxnError(e));
      assert.is(e.code, 'E_USAGE');
      assert.match(e.message, `found '${bad}'`);
    }
  }
});

test.run();
