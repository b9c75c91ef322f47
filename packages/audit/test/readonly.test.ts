import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import Database from 'better-sqlite3';
import { Journal } from '@codemate-txn/journal';
import { log, show, status, verify } from '@codemate-txn/audit';
import { buildDemo } from './helpers/demo-journal.js';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e: unknown) {
    return String((e as { code?: unknown }).code);
  }
  return 'no error';
}

test('a read-only journal refuses writes at the SQLite level', () => {
  const d = buildDemo();
  const j = Journal.open(d.journal, { readonly: true });
  try {
    assert.ok(j.readonly);
    // RETURNING makes the INSERT a statement that query() runs, so the refusal is SQLite's own.
    assert.is(code(() => j.query(`INSERT INTO installed (path, type, version, txn_id) VALUES ('x', 'file', '9', 1) RETURNING path`)), 'SQLITE_READONLY');
    assert.is(code(() => j.query(`UPDATE txn SET state = 'done' WHERE id = 3 RETURNING id`)), 'SQLITE_READONLY');
    assert.is(code(() => j.query(`DELETE FROM installed RETURNING path`)), 'SQLITE_READONLY');
  } finally {
    j.close();
  }
  const raw = new Database(d.journal, { readonly: true, fileMustExist: true });
  try {
    assert.is(code(() => raw.prepare(`INSERT INTO installed (path, type, version, txn_id) VALUES ('x', 'file', '9', 1)`).run()), 'SQLITE_READONLY');
  } finally {
    raw.close();
  }
  assert.is(Journal.open(d.journal, { readonly: true }).installedFiles().some((f) => f.path === 'x'), false);
});

test('status, log, show and verify change nothing in the journal', async () => {
  const d = buildDemo();
  const before = fs.readFileSync(d.journal);
  const mode = fs.statSync(d.journal).mode;
  status({ target: d.target });
  log({ target: d.target, state: 'done' });
  show({ target: d.target, txnId: 2 });
  await verify({ target: d.target });
  assert.ok(fs.readFileSync(d.journal).equals(before));
  assert.is(fs.statSync(d.journal).mode, mode);
  for (const side of ['-wal', '-journal']) {
    const p = d.journal + side;
    assert.ok(!fs.existsSync(p) || fs.statSync(p).size === 0, `${p} holds no writes`);
  }
});

test('auditors read while a writer holds an open write transaction (WAL: no blocking, no dirty reads)', () => {
  const d = buildDemo();
  const writer = new Database(d.journal);
  try {
    writer.pragma('busy_timeout = 0');
    writer.exec('BEGIN IMMEDIATE');
    writer.prepare(`UPDATE txn SET state = 'applying' WHERE id = 3`).run();
    const t0 = Date.now();
    assert.equal(log({ target: d.target }).map((t) => t.state), ['rolled_back', 'done', 'done']);
    assert.is(status({ target: d.target }).installed?.version, '2.0.0');
    assert.ok(Date.now() - t0 < 1000, 'the reader did not wait for the writer');
    // And the reader did not stop the writer from committing.
    writer.exec('COMMIT');
    assert.is(log({ target: d.target, limit: 1 })[0]?.state, 'applying');
  } finally {
    writer.close();
  }
});

test.run();
