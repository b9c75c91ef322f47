/**
 * The audit views of DESIGN §8 (txn_history, op_log, installed_files), read the way an auditor
 * reads them: through the plain `sqlite3` shell, no custom functions. The journal holds an
 * install, an update and a failed (rolled back) update.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { apply } from '@codemate-txn/engine';
import { loadManifestFile, DEFAULT_PRESERVE, makePreserveMatcher } from '@codemate-txn/manifest';
import { TxnError, type ManifestEntry } from '@codemate-txn/core';
import { tempDir, makeRelease, sqlite3, sqlite3Json, sqlite3Available, cleanupTemps } from '@codemate-txn/testkit';
import { makeReleases, ctxWith, TREE_V2, type Releases } from './helpers.js';

test.after(cleanupTemps);

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z$/;
const WRONG_SHA = '0'.repeat(64);

let rel: Releases;
let db = '';
let failure: TxnError;
/** installed_files right after the v2 update, before the failed one. */
let installedAfterV2: Array<Record<string, unknown>> = [];

test.before(async () => {
  assert.ok(sqlite3Available(), 'these tests need the sqlite3 shell on PATH');
  const root = tempDir();
  rel = await makeReleases(root);
  // v3 adds a file whose manifest sha256 is wrong: staging fails verification, the update rolls back.
  const m3 = await makeRelease(path.join(root, 'rel-3'), {
    app: 'acc', version: '3.0.0', tree: { ...TREE_V2, 'src/d.js': 'd3\n', 'index.js': 'module.exports = 3\n' },
    edit: (m) => {
      for (const e of m.files) if (e.path === 'src/d.js' && e.type === 'file') e.sha256 = WRONG_SHA;
    },
  });
  const target = path.join(root, 'inst', 'app');
  db = path.join(root, 'inst', 'app.journal.db');
  await apply(rel.l1, { target }, ctxWith());
  await apply(rel.l2, { target }, ctxWith());
  installedAfterV2 = sqlite3Json(db, 'SELECT path, sha256, size, mode, version FROM installed_files ORDER BY path');
  try {
    await apply(await loadManifestFile(m3, root), { target }, ctxWith());
    assert.unreachable('the v3 update must fail');
  } catch (e: unknown) {
    assert.instance(e, TxnError);
    failure = e as TxnError;
  }
  assert.is(failure.code, 'E_STAGE_VERIFY');
});

test('the views exist with DESIGN §8\'s columns first, and are plain SQL the shell reads read-only', () => {
  const views = sqlite3(db, "SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name", { readonly: true }).split('\n');
  for (const v of ['installed_files', 'op_log', 'txn_history']) assert.ok(views.includes(v), `view ${v} exists`);
  // Later columns may be appended; the contract's columns come first, in order.
  const cols = (v: string, n: number) => sqlite3Json(db, `SELECT name FROM pragma_table_info('${v}')`).map((r) => r.name).slice(0, n);
  assert.equal(cols('txn_history', 9), ['id', 'kind', 'app', 'from_version', 'to_version', 'state', 'started_at', 'finished_at', 'error']);
  assert.equal(cols('op_log', 6), ['txn_id', 'seq', 'kind', 'path', 'state', 'at']);
  assert.equal(cols('installed_files', 5), ['path', 'sha256', 'size', 'mode', 'version']);
});

test('txn_history: install, update, failed update with kind, versions, state, times and error', () => {
  const rows = sqlite3Json(db, 'SELECT id, kind, app, from_version, to_version, state, started_at, finished_at, error FROM txn_history ORDER BY id', { readonly: true });
  assert.is(rows.length, 3);
  const brief = rows.map((r) => [r.id, r.kind, r.app, r.from_version, r.to_version, r.state]);
  assert.equal(brief, [
    [1, 'install', 'acc', null, '1.0.0', 'done'],
    [2, 'update', 'acc', '1.0.0', '2.0.0', 'done'],
    [3, 'update', 'acc', '2.0.0', '3.0.0', 'rolled_back'],
  ]);
  assert.is(rows[0]!.error, null);
  assert.is(rows[1]!.error, null);
  const err = String(rows[2]!.error);
  assert.match(err, /src\/d\.js/, 'the error names the file');
  assert.match(err, /sha256/, 'and the rule');
  assert.ok(err.includes(WRONG_SHA), 'and what was expected');
  for (const r of rows) {
    assert.match(String(r.started_at), ISO_UTC);
    assert.match(String(r.finished_at), ISO_UTC);
    assert.ok(String(r.finished_at) >= String(r.started_at), `txn ${r.id} finished after it started`);
  }
  assert.ok(String(rows[1]!.started_at) >= String(rows[0]!.finished_at));
});

test('op_log: rows for each transaction, seq 1..n, ISO times; a done txn has only done ops', () => {
  const rows = sqlite3Json(db, 'SELECT txn_id, seq, kind, path, state, at FROM op_log ORDER BY txn_id, seq', { readonly: true });
  for (const id of [1, 2, 3]) {
    const ops = rows.filter((r) => r.txn_id === id);
    assert.ok(ops.length > 0, `txn ${id} has ops`);
    assert.equal(ops.map((r) => r.seq), ops.map((_, i) => i + 1), `txn ${id}: seq runs 1..n`);
    for (const o of ops) {
      assert.match(String(o.at), ISO_UTC);
      assert.ok(['mkdir', 'write', 'rename', 'chmod', 'rmdir', 'rmtree', 'symlink', 'unlink', 'fingerprint'].includes(String(o.kind)), `op kind ${o.kind}`);
    }
  }
  const states = (id: number) => [...new Set(rows.filter((r) => r.txn_id === id).map((r) => r.state))].sort();
  assert.equal(states(1), ['done']);
  assert.equal(states(2), ['done']);
  // the update's ops name the paths it touched
  const paths2 = rows.filter((r) => r.txn_id === 2).map((r) => r.path);
  for (const p of ['src/b.js', 'src/new/c.js', 'src/gone.js', 'bin/helper', 'lib/current']) assert.ok(paths2.includes(p), `op_log of txn 2 names ${p}`);
});

test('op_log of the rolled-back txn: the failed op is "failed", and no op is left "pending"', () => {
  const ops = sqlite3Json(db, 'SELECT seq, kind, path, state FROM op_log WHERE txn_id = 3 ORDER BY seq', { readonly: true });
  const failed = ops.filter((o) => o.state === 'failed');
  assert.equal(failed.map((o) => [o.kind, o.path]), [['write', 'src/d.js']]);
  assert.ok(ops.some((o) => o.state === 'undone'), 'the staging it made is undone');
  // A finished transaction has no op in an unknown state: every intent ended done, undone, skipped or failed.
  const pending = ops.filter((o) => o.state === 'pending');
  assert.equal(pending, [], `ops still 'pending' in a rolled_back transaction: ${JSON.stringify(pending)}`);
});

test('installed_files: exactly the managed paths of v2, with sha256, size, mode and the version that last wrote them', () => {
  const rows = sqlite3Json(db, 'SELECT path, sha256, size, mode, version FROM installed_files ORDER BY path', { readonly: true });
  const preserve = makePreserveMatcher(DEFAULT_PRESERVE);
  const v1 = new Map(rel.l1.manifest.files.map((e) => [e.path, e]));
  const same = (a: ManifestEntry | undefined, b: ManifestEntry): boolean => JSON.stringify(a) === JSON.stringify(b);
  const expected = rel.l2.manifest.files
    .filter((e) => e.type !== 'dir' && !preserve.isPreserved(e.path, false))
    .map((e) => ({
      path: e.path,
      sha256: e.type === 'file' ? e.sha256 : null,
      size: e.type === 'file' ? e.size : null,
      mode: e.type === 'file' ? e.mode.toString(8) : null,
      version: same(v1.get(e.path), e) ? '1.0.0' : '2.0.0',
    }))
    .sort((a, b) => (Buffer.compare(Buffer.from(a.path), Buffer.from(b.path))));
  assert.equal(rows.map((r) => r.path), expected.map((e) => e.path), 'exactly the managed, non-directory paths');
  assert.not.ok(rows.some((r) => r.path === 'config/user_settings.json'), 'a preserved file is the user\'s');
  assert.not.ok(rows.some((r) => r.path === '.codemate-version'), 'the engine\'s own version file is not a release file');
  // unchanged since v1 keep 1.0.0; replaced, added, chmodded and retargeted get 2.0.0
  const versions = Object.fromEntries(rows.map((r) => [r.path, r.version]));
  assert.equal(
    Object.keys(versions).filter((p) => versions[p] === '1.0.0'),
    ['README.md', 'lib/v1/x.js', 'src/a.js'],
  );
  assert.is(versions['bin/helper'], '2.0.0', 'a mode change counts as a write');
  assert.is(versions['lib/current'], '2.0.0', 'a retargeted symlink counts as a write');
  // the symlink's mode is pinned by its own test below
  const noLinkMode = (r: Record<string, unknown>) => (r.path === 'lib/current' ? { ...r, mode: '<link>' } : r);
  assert.equal(rows.map(noLinkMode), expected.map(noLinkMode), 'sha256, size, octal mode and version per path');
});

test('installed_files: a symlink has no mode, sha256 or size (NULL), not a made-up mode "0"', () => {
  const link = sqlite3Json(db, "SELECT path, sha256, size, mode, version FROM installed_files WHERE path = 'lib/current'", { readonly: true });
  assert.equal(link, [{ path: 'lib/current', sha256: null, size: null, mode: null, version: '2.0.0' }]);
});

test('installed_files: the failed update changed nothing', () => {
  assert.equal(sqlite3Json(db, 'SELECT path, sha256, size, mode, version FROM installed_files ORDER BY path', { readonly: true }), installedAfterV2);
});

test('the journal is in WAL mode, mode 0600, and the shell reads it read-only', () => {
  assert.is(sqlite3(db, 'PRAGMA journal_mode'), 'wal');
  assert.is(fs.statSync(db).mode & 0o777, 0o600);
  assert.is(sqlite3(db, "SELECT count(*) FROM txn_history WHERE state = 'done'", { readonly: true }), '2');
});

test.run();
