/**
 * Schema evolution: a journal of schema 1 opened by this code is migrated to schema 2 in one
 * SQLite transaction, its data intact and its history chained; a journal newer than this code is
 * refused with E_JOURNAL_SCHEMA and left untouched; read-only opens never migrate.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { isTxnError } from '@codemate-txn/core';
import { Journal, SCHEMA_VERSION } from '@codemate-txn/journal';
import { CONTENT, dumpV1, makeV1Journal, sha, tempDir } from './helpers/v1-journal.js';

function v1File(): string {
  const f = path.join(tempDir(), 'app.journal.db');
  makeV1Journal(f);
  return f;
}

function userVersion(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return db.pragma('user_version', { simple: true }) as number;
  } finally {
    db.close();
  }
}

function dump(file: string): Record<string, unknown[]> {
  const db = new Database(file, { readonly: true });
  try {
    return dumpV1(db);
  } finally {
    db.close();
  }
}

test('opening a schema-1 journal migrates it to the current schema with every v1 value intact', () => {
  const f = v1File();
  const before = dump(f);
  assert.is(userVersion(f), 1);
  const j = Journal.open(f);
  assert.is(j.schemaVersion(), SCHEMA_VERSION);
  j.close();
  assert.is(userVersion(f), SCHEMA_VERSION);
  assert.equal(dump(f), before);
});

test('the migrated history is chained: verify is intact and names the transactions chained by the migration', () => {
  const f = v1File();
  Journal.open(f).close();
  const j = Journal.open(f, { readonly: true });
  const r = j.verifyChain();
  j.close();
  assert.equal(r.problems, []);
  assert.ok(r.intact);
  assert.is(r.txns, 3);
  // 3 txns, 14 planned files, 10 ops, and snapshot events: one per txn, and one per group of ops with
  // the same state, done_at and error (txn 1: 2 groups, txn 2: 2, txn 3: undone, failed, done).
  assert.is(r.records, 3 + 14 + 10 + 3 + 7);
  assert.equal(r.migrated, { txnIds: [1, 2, 3], throughRecord: r.records });
  assert.is(r.head?.seq, r.records);
});

test('the migrated journal keeps answering the audit API and the new views', () => {
  const f = v1File();
  Journal.open(f).close();
  const j = Journal.open(f, { readonly: true });
  try {
    assert.equal(j.installedVersion(), { app: 'demo', version: '2.0.0', txnId: 2 });
    assert.equal(j.listTxns().map((t) => [t.id, t.state, t.committedAt, t.chainSeq !== null]), [
      [3, 'rolled_back', null, true], [2, 'done', null, true], [1, 'done', null, true],
    ]);
    assert.equal(j.ops(3).map((o) => o.state), ['undone', 'failed', 'done']);
    assert.equal(j.query('SELECT id, installed, replaced, removed, unchanged, preserved, chmod, bytes_staged, duration_ms, error_code FROM txn_summary ORDER BY id'), [
      { id: 1, installed: 5, replaced: 0, removed: 0, unchanged: 0, preserved: 0, chmod: 0, bytes_staged: 4, duration_ms: 2000, error_code: null },
      { id: 2, installed: 1, replaced: 1, removed: 1, unchanged: 2, preserved: 1, chmod: 0, bytes_staged: 6, duration_ms: 3000, error_code: null },
      { id: 3, installed: 0, replaced: 1, removed: 0, unchanged: 3, preserved: 0, chmod: 0, bytes_staged: 0, duration_ms: 510, error_code: 'E_STAGE_VERIFY' },
    ]);
    // Schema 1 did not record the commit time: file_history falls back to finished_at.
    assert.equal(j.query(`SELECT path, txn_id, version, action, sha256, at FROM file_history ORDER BY path, txn_id`), [
      { path: 'config/user_settings.json', txn_id: 1, version: '1.0.0', action: 'preserved-install', sha256: sha('{}'), at: '2024-05-01T10:00:02.000Z' },
      { path: 'index.js', txn_id: 1, version: '1.0.0', action: 'install', sha256: sha(CONTENT.index1), at: '2024-05-01T10:00:02.000Z' },
      { path: 'index.js', txn_id: 2, version: '2.0.0', action: 'replace', sha256: sha(CONTENT.index2), at: '2024-05-02T10:00:03.000Z' },
      { path: 'lib/a.js', txn_id: 1, version: '1.0.0', action: 'install', sha256: sha(CONTENT.a), at: '2024-05-01T10:00:02.000Z' },
      { path: 'lib/b.js', txn_id: 2, version: '2.0.0', action: 'install', sha256: sha(CONTENT.b), at: '2024-05-02T10:00:03.000Z' },
      { path: 'lib/current', txn_id: 1, version: '1.0.0', action: 'install', sha256: null, at: '2024-05-01T10:00:02.000Z' },
      { path: 'old.js', txn_id: 1, version: '1.0.0', action: 'install', sha256: sha(CONTENT.old), at: '2024-05-01T10:00:02.000Z' },
      { path: 'old.js', txn_id: 2, version: '2.0.0', action: 'remove', sha256: null, at: '2024-05-02T10:00:03.000Z' },
    ]);
    assert.equal(j.query(`SELECT path, mode, type, link_target FROM installed_files WHERE path = 'lib/current'`), [
      { path: 'lib/current', mode: null, type: 'symlink', link_target: 'lib' },
    ]);
  } finally {
    j.close();
  }
});

test('a transaction written after the migration extends the chain', () => {
  const f = v1File();
  const j = Journal.open(f, { now: () => new Date('2024-06-01T00:00:00.000Z') });
  const id = j.beginTxn({
    kind: 'update', app: 'demo', fromVersion: '2.0.0', toVersion: '2.1.0', target: '/t', stagingDir: '/t.staging', backupDir: null,
    keepBackup: false, manifestSha256: sha('m4'), manifestSource: 'm4.json', pid: 1, host: 'new-host', user: 'ci', toolVersion: '0.2.0',
  }, [{ path: 'index.js', type: 'file', sha256: sha('x'), size: 1, mode: 0o644, linkTarget: null, action: 'replace', managed: true }]);
  assert.is(id, 4);
  const seqs = j.addOps(id, [{ phase: 'stage', kind: 'write', path: 'index.js', undo: 'none', size: 1 }]);
  assert.equal(seqs, [1]);
  j.markOps(id, seqs, 'done');
  j.setState(id, 'applying');
  j.commitTxn(id);
  j.setState(id, 'done');
  const r = j.verifyChain();
  j.close();
  assert.equal(r.problems, []);
  assert.equal(r.migrated?.txnIds, [1, 2, 3]);
  assert.ok(r.records > (r.migrated?.throughRecord ?? 0));
});

test('a migration that fails half-way changes nothing: the journal stays at schema 1, byte for byte', () => {
  const f = v1File();
  // Something in the way of the migration: a table of the user's own under a name schema 2 needs.
  const db = new Database(f);
  db.exec('CREATE TABLE event (note TEXT)');
  db.close();
  const before = dump(f);
  let code = 'no error';
  try {
    Journal.open(f).close();
  } catch (e: unknown) {
    code = String((e as { code?: unknown }).code);
  }
  assert.is.not(code, 'no error');
  assert.is(userVersion(f), 1);
  assert.equal(dump(f), before);
  const check = new Database(f, { readonly: true });
  const cols = (check.prepare(`SELECT name FROM pragma_table_info('txn')`).all() as Array<{ name: string }>).map((c) => c.name);
  const views = (check.prepare(`SELECT name FROM sqlite_master WHERE type IN ('view', 'trigger') ORDER BY name`).all() as Array<{ name: string }>).map((c) => c.name);
  check.close();
  assert.not.ok(cols.includes('chain_seq'), 'no column was added');
  assert.equal(views, ['installed_files', 'op_log', 'txn_history'], 'no view or trigger was added or replaced');
});

test('a process killed during a large migration leaves schema 1 intact; the next open migrates', async () => {
  const f = v1File();
  // Make the migration long enough to be killed in the middle: 60 000 more v1 ops.
  const db = new Database(f);
  const ins = db.prepare(`INSERT INTO op (txn_id, seq, phase, kind, path, undo, state, at, done_at) VALUES (2, ?, 'apply', 'rename', ?, 'none', 'done', '2024-05-02T10:00:02.000Z', '2024-05-02T10:00:02.500Z')`);
  db.transaction(() => { for (let i = 5; i < 60005; i++) ins.run(i, `bulk/${i}.js`); })();
  db.close();
  const before = dump(f);
  const journalMain = require.resolve('@codemate-txn/journal');
  const script = `const { Journal } = require(${JSON.stringify(journalMain)}); process.stdout.write('go\\n');
    Journal.open(${JSON.stringify(f)}); process.stdout.write('migrated\\n');`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('go')) setTimeout(() => child.kill('SIGKILL'), 150);
    });
    child.on('exit', () => resolve());
  });
  if (out.includes('migrated')) {
    // The machine was fast enough to finish first; then the migration is simply done.
    assert.is(userVersion(f), SCHEMA_VERSION);
  } else {
    assert.is(userVersion(f), 1, 'the killed migration left schema 1');
    assert.equal(dump(f), before);
  }
  const j = Journal.open(f);
  const r = j.verifyChain();
  j.close();
  assert.is(userVersion(f), SCHEMA_VERSION);
  assert.ok(r.intact, JSON.stringify(r.problems.slice(0, 3)));
});

function expectSchemaError(fn: () => unknown): { message: string; hint: string | undefined; exitCode: number } {
  try {
    fn();
  } catch (e: unknown) {
    assert.ok(isTxnError(e), `expected a TxnError, got ${String(e)}`);
    assert.is(e.code, 'E_JOURNAL_SCHEMA');
    return { message: e.message, hint: e.hint, exitCode: e.exitCode };
  }
  assert.unreachable('expected E_JOURNAL_SCHEMA');
  throw new Error('unreachable');
}

test('a journal with a newer schema is refused with E_JOURNAL_SCHEMA (exit 2), for writing and reading, untouched', () => {
  const f = path.join(tempDir(), 'app.journal.db');
  Journal.open(f).close();
  const db = new Database(f);
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  db.close();
  const bytes = fs.readFileSync(f);
  const w = expectSchemaError(() => Journal.open(f));
  assert.is(w.exitCode, 2);
  assert.match(w.message, `has schema version ${SCHEMA_VERSION + 1}`);
  assert.match(w.message, `(schema ${SCHEMA_VERSION}) cannot read or write it`);
  assert.match(w.message, f);
  assert.match(w.hint ?? '', /newer codemate-txn/);
  expectSchemaError(() => Journal.open(f, { readonly: true }));
  expectSchemaError(() => Journal.open(f, { peek: true }));
  assert.ok(fs.readFileSync(f).equals(bytes), 'the journal is left as it was');
  assert.is(userVersion(f), SCHEMA_VERSION + 1);
});

test('read-only opens of a schema-1 journal read it as it is, without migrating', () => {
  const f = v1File();
  const j = Journal.open(f, { readonly: true });
  try {
    assert.is(j.schemaVersion(), 1);
    assert.equal(j.installedVersion(), { app: 'demo', version: '2.0.0', txnId: 2 });
    assert.equal(j.installedFiles().map((x) => x.path), ['index.js', 'lib/a.js', 'lib/b.js', 'lib/current']);
    assert.equal(j.getTxn(1)?.hash, null);
    const r = j.verifyChain();
    assert.not.ok(r.intact);
    assert.equal(r.problems.map((p) => p.kind), ['schema']);
    assert.match(r.problems[0]?.message ?? '', /schema version 1, which predates the hash chain/);
  } finally {
    j.close();
  }
  assert.is(userVersion(f), 1);
});

test.run();
