import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { Journal } from '@codemate-txn/journal';
import { log, show, status, verify, verifyJournal } from '@codemate-txn/audit';
import { apply, loadManifestFile } from '@codemate-txn/engine';
import { makeRelease, tempDir } from '@codemate-txn/testkit';
import { buildDemo } from './helpers/demo-journal.js';
import { storyContext, TREE_V1, TREE_V2 } from './helpers/engine-story.js';

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

test('a reader in another process holding a read transaction open does not block or break a real apply', async () => {
  const root = tempDir();
  const m1 = await makeRelease(path.join(root, 'rel-1'), { app: 'demo', version: '1.0.0', tree: TREE_V1 });
  const m2 = await makeRelease(path.join(root, 'rel-2'), { app: 'demo', version: '2.0.0', tree: TREE_V2 });
  const target = path.join(root, 'inst', 'app');
  const journal = path.join(root, 'inst', 'app.journal.db');
  const ctx = storyContext();
  await apply(await loadManifestFile(m1, root), { target }, ctx);

  // The reader: read-only, BEGIN, one SELECT (the snapshot is now pinned), then it waits; on
  // 'again' it reads inside the same transaction, commits, and reads once more.
  const script = `
    const Database = require(${JSON.stringify(require.resolve('better-sqlite3'))});
    const db = new Database(${JSON.stringify(journal)}, { readonly: true, fileMustExist: true });
    const read = () => JSON.stringify(db.prepare("SELECT count(*) AS n, max(to_version) AS v FROM txn_history WHERE state = 'done'").get());
    db.exec('BEGIN');
    process.stdout.write('in-txn ' + read() + '\\n');
    process.stdin.on('data', () => {
      process.stdout.write('same-txn ' + read() + '\\n');
      db.exec('COMMIT');
      process.stdout.write('after ' + read() + '\\n');
      db.close();
      process.exit(0);
    });`;
  const reader = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const seen = (what: string) => new Promise<void>((resolve, reject) => {
    const check = () => { if (out.includes(what)) resolve(); };
    reader.stdout.on('data', (b: Buffer) => { out += b.toString(); check(); });
    reader.on('exit', (c) => { check(); reject(new Error(`reader exited (${String(c)}) before '${what}': ${out}`)); });
    check();
  });
  try {
    await seen('in-txn');
    const t0 = Date.now();
    const res = await apply(await loadManifestFile(m2, root), { target }, ctx);
    const took = Date.now() - t0;
    assert.is(res.kind, 'update');
    assert.ok(took < 5000, `apply took ${took} ms with a reader open (busy_timeout would be 5000)`);
    assert.is(fs.readFileSync(path.join(target, '.codemate-version'), 'utf8'), '2.0.0\n');
    // The writer is done and its journal verifies, while the reader still holds its snapshot.
    assert.ok(verifyJournal({ target }).intact);
    reader.stdin.write('again\n');
    await seen('after');
  } finally {
    if (reader.exitCode === null) reader.kill('SIGKILL');
  }
  assert.match(out, /in-txn \{"n":1,"v":"1\.0\.0"\}/);
  assert.match(out, /same-txn \{"n":1,"v":"1\.0\.0"\}/, 'inside its transaction the reader kept its snapshot');
  assert.match(out, /after \{"n":2,"v":"2\.0\.0"\}/, 'a new transaction sees the update');
});

test.run();
