/**
 * A journal of schema version 1, made the way codemate-txn 0.1 (schema 1) made them: the frozen
 * v1 schema (fixtures/schema-v1.sql, a copy of journal-schema.sql as it was at version 1) and
 * plain INSERT/UPDATE statements with the values v1's Journal wrote. The story:
 *
 *   txn 1  install demo 1.0.0          done
 *   txn 2  update  demo 1.0.0 → 2.0.0  done (index.js replaced, b.js added, old.js removed)
 *   txn 3  update  demo 2.0.0 → 3.0.0  rolled back while staging (E_STAGE_VERIFY)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';

export const SCHEMA_V1_SQL = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'schema-v1.sql'), 'utf8');

const temps: string[] = [];
process.on('exit', () => {
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});

export function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'codemate-txn-journal-'));
  temps.push(d);
  return d;
}

export const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

/** Every v1 column of every v1 table, for before/after comparisons. */
export const V1_COLUMNS: Record<string, string[]> = {
  txn: ['id', 'kind', 'app', 'from_version', 'to_version', 'state', 'target', 'staging_dir', 'backup_dir', 'keep_backup',
    'manifest_sha256', 'manifest_source', 'pid', 'host', 'user', 'tool_version', 'started_at', 'finished_at', 'error',
    'error_code', 'recovered_by'],
  op: ['txn_id', 'seq', 'phase', 'kind', 'action', 'path', 'src', 'dst', 'ftype', 'size', 'sha256', 'mode', 'old_mode',
    'link_target', 'undo', 'ref_seq', 'state', 'at', 'done_at', 'error'],
  planned_file: ['txn_id', 'path', 'type', 'sha256', 'size', 'mode', 'link_target', 'action', 'managed'],
  installed: ['path', 'type', 'sha256', 'size', 'mode', 'link_target', 'version', 'txn_id'],
};

export function dumpV1(db: Database.Database): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const [t, cols] of Object.entries(V1_COLUMNS)) {
    out[t] = db.prepare(`SELECT ${cols.join(', ')} FROM ${t} ORDER BY ${t === 'installed' ? 'path' : t === 'txn' ? 'id' : 'txn_id, ' + (t === 'op' ? 'seq' : 'path')}`).all();
  }
  return out;
}

export const CONTENT = { index1: 'one\n', index2: 'two\n', index3: 'three\n', a: 'a\n', b: 'b\n', old: 'old\n' };

/** Writes the v1 story to `file` (which must not exist) and closes it. */
export function makeV1Journal(file: string): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(SCHEMA_V1_SQL);
  db.pragma('user_version = 1');
  const root = path.dirname(file);
  const T = path.join(root, 'app');
  const S = path.join(root, 'app.staging');
  const insTxn = db.prepare(
    `INSERT INTO txn (kind, app, from_version, to_version, state, target, staging_dir, backup_dir, keep_backup,
       manifest_sha256, manifest_source, pid, host, user, tool_version, started_at)
     VALUES (?, 'demo', ?, ?, 'staging', ?, ?, ?, 0, ?, ?, 4242, 'old-host', 'ci', '0.1.0', ?)`,
  );
  const insPlanned = db.prepare(
    `INSERT INTO planned_file (txn_id, path, type, sha256, size, mode, link_target, action, managed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insOp = db.prepare(
    `INSERT INTO op (txn_id, seq, phase, kind, action, path, src, dst, ftype, size, sha256, mode, old_mode, link_target, undo, ref_seq, state, at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, 'pending', ?)`,
  );
  const mark = db.prepare('UPDATE op SET state = ?, done_at = ?, error = COALESCE(?, error) WHERE txn_id = ? AND seq = ?');
  const setState = db.prepare(
    `UPDATE txn SET state = ?, finished_at = CASE WHEN ? THEN ? ELSE finished_at END,
       error = COALESCE(error, ?), error_code = COALESCE(error_code, ?) WHERE id = ?`,
  );
  const file1 = (p: string, c: string, action: string, mode = 0o644): unknown[] => [p, 'file', sha(c), Buffer.byteLength(c), mode, null, action, 1];

  db.transaction(() => {
    // txn 1: install 1.0.0
    insTxn.run('install', null, '1.0.0', T, S, null, sha('m1'), 'https://example.test/1.0.0/manifest.json', '2024-05-01T10:00:00.000Z');
    for (const p of [file1('index.js', CONTENT.index1, 'install'), file1('lib/a.js', CONTENT.a, 'install'),
      file1('old.js', CONTENT.old, 'install'), ['lib/current', 'symlink', null, null, null, 'lib', 'install', 1],
      ['config/user_settings.json', 'file', sha('{}'), 2, 0o644, null, 'preserved-install', 0]]) insPlanned.run(1, ...p);
    insOp.run(1, 1, 'stage', 'mkdir', 'staging-root', '', null, S, 'dir', null, null, 0o700, null, 'rmtree', null, '2024-05-01T10:00:00.100Z');
    insOp.run(1, 2, 'stage', 'write', 'stage', 'index.js', null, `${S}/index.js`, 'file', 4, sha(CONTENT.index1), 0o644, null, 'none', null, '2024-05-01T10:00:00.100Z');
    insOp.run(1, 3, 'apply', 'rename', 'place-root', '', S, T, 'dir', null, null, null, null, 'rename-back', null, '2024-05-01T10:00:01.000Z');
    for (const s of [1, 2]) mark.run('done', '2024-05-01T10:00:00.500Z', null, 1, s);
    setState.run('applying', 0, '2024-05-01T10:00:00.900Z', null, null, 1);
    mark.run('done', '2024-05-01T10:00:01.100Z', null, 1, 3);
    for (const p of db.prepare(`SELECT * FROM planned_file WHERE txn_id = 1 AND managed = 1`).all() as Array<Record<string, unknown>>) {
      db.prepare(`INSERT INTO installed VALUES (?, ?, ?, ?, ?, ?, '1.0.0', 1)`).run(p.path, p.type, p.sha256, p.size, p.mode, p.link_target);
    }
    setState.run('committed', 0, null, null, null, 1);
    setState.run('done', 1, '2024-05-01T10:00:02.000Z', null, null, 1);

    // txn 2: update to 2.0.0
    insTxn.run('update', '1.0.0', '2.0.0', T, S, path.join(root, 'backup_staging/app/backup_staging_1.0.0'), sha('m2'), 'https://example.test/2.0.0/manifest.json', '2024-05-02T10:00:00.000Z');
    for (const p of [file1('index.js', CONTENT.index2, 'replace'), file1('lib/a.js', CONTENT.a, 'unchanged'),
      file1('lib/b.js', CONTENT.b, 'install', 0o755), ['lib/current', 'symlink', null, null, null, 'lib', 'unchanged', 1],
      ['config/user_settings.json', 'file', sha('{}'), 2, 0o644, null, 'preserved', 0]]) insPlanned.run(2, ...p);
    insOp.run(2, 1, 'stage', 'write', 'stage', 'index.js', null, `${S}/index.js`, 'file', 4, sha(CONTENT.index2), 0o644, null, 'none', null, '2024-05-02T10:00:00.100Z');
    insOp.run(2, 2, 'stage', 'write', 'stage', 'lib/b.js', null, `${S}/lib/b.js`, 'file', 2, sha(CONTENT.b), 0o755, null, 'none', null, '2024-05-02T10:00:00.100Z');
    for (const s of [1, 2]) mark.run('done', '2024-05-02T10:00:00.400Z', null, 2, s);
    setState.run('applying', 0, null, null, null, 2);
    insOp.run(2, 3, 'apply', 'rename', 'remove', 'old.js', `${T}/old.js`, `${root}/backup/old.js`, 'file', null, null, null, null, 'rename-back', null, '2024-05-02T10:00:01.000Z');
    insOp.run(2, 4, 'apply', 'rename', 'replace', 'index.js', `${S}/index.js`, `${T}/index.js`, 'file', 4, sha(CONTENT.index2), 0o644, null, 'rename-back', null, '2024-05-02T10:00:01.000Z');
    for (const s of [3, 4]) mark.run('done', '2024-05-02T10:00:01.200Z', null, 2, s);
    db.prepare('DELETE FROM installed').run();
    db.prepare(`INSERT INTO installed VALUES ('index.js', 'file', ?, 4, 420, NULL, '2.0.0', 2)`).run(sha(CONTENT.index2));
    db.prepare(`INSERT INTO installed VALUES ('lib/a.js', 'file', ?, 2, 420, NULL, '1.0.0', 1)`).run(sha(CONTENT.a));
    db.prepare(`INSERT INTO installed VALUES ('lib/b.js', 'file', ?, 2, 493, NULL, '2.0.0', 2)`).run(sha(CONTENT.b));
    db.prepare(`INSERT INTO installed VALUES ('lib/current', 'symlink', NULL, NULL, NULL, 'lib', '1.0.0', 1)`).run();
    setState.run('committed', 0, null, null, null, 2);
    setState.run('done', 1, '2024-05-02T10:00:03.000Z', null, null, 2);

    // txn 3: update to 3.0.0, fails while staging, rolled back
    insTxn.run('update', '2.0.0', '3.0.0', T, S, path.join(root, 'backup_staging/app/backup_staging_2.0.0'), sha('m3'), 'https://example.test/3.0.0/manifest.json', '2024-05-03T10:00:00.000Z');
    for (const p of [file1('index.js', CONTENT.index3, 'replace'), file1('lib/a.js', CONTENT.a, 'unchanged'),
      file1('lib/b.js', CONTENT.b, 'unchanged', 0o755), ['lib/current', 'symlink', null, null, null, 'lib', 'unchanged', 1]]) insPlanned.run(3, ...p);
    insOp.run(3, 1, 'stage', 'mkdir', 'staging-root', '', null, S, 'dir', null, null, 0o700, null, 'rmtree', null, '2024-05-03T10:00:00.010Z');
    mark.run('done', '2024-05-03T10:00:00.020Z', null, 3, 1);
    insOp.run(3, 2, 'stage', 'write', 'stage', 'index.js', null, `${S}/index.js`, 'file', 6, sha(CONTENT.index3), 0o644, null, 'none', null, '2024-05-03T10:00:00.030Z');
    mark.run('failed', '2024-05-03T10:00:00.300Z', 'staged index.js does not match the manifest', 3, 2);
    setState.run('rolling_back', 0, null, 'staged index.js does not match the manifest', 'E_STAGE_VERIFY', 3);
    insOp.run(3, 3, 'undo', 'rmtree', 'rollback', '', S, null, null, null, null, null, null, 'none', 1, '2024-05-03T10:00:00.400Z');
    mark.run('done', '2024-05-03T10:00:00.500Z', null, 3, 3);
    mark.run('undone', '2024-05-03T10:00:00.500Z', null, 3, 1);
    setState.run('rolled_back', 1, '2024-05-03T10:00:00.510Z', null, null, 3);
  })();
  db.close();
}
