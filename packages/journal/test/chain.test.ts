/**
 * The hash chain through the Journal API: every write extends it in the same SQLite transaction,
 * the append-only triggers refuse edits, and verifyChain names the first record that was edited,
 * deleted or added behind codemate-txn's back (here with a raw connection; the audit package
 * does the same with the sqlite3 shell on a journal the real engine wrote).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { Journal, type ChainProblem, type OpIntent, type TxnBegin } from '@codemate-txn/journal';
import { sha, tempDir } from './helpers/v1-journal.js';

const T0 = Date.parse('2024-05-01T10:00:00.000Z');

/** install (done), update (done), update that fails and is undone step by step (rolled_back). */
function buildStory(dbFile: string): void {
  let clock = T0;
  const j = Journal.open(dbFile, { now: () => new Date((clock += 10)) });
  const begin = (kind: TxnBegin['kind'], from: string | null, to: string): TxnBegin => ({
    kind, app: 'demo', fromVersion: from, toVersion: to, target: '/srv/app', stagingDir: '/srv/app.staging', backupDir: '/srv/backup',
    keepBackup: false, manifestSha256: sha(`m${to}`), manifestSource: `https://example.test/${to}/manifest.json`, pid: 7, host: 'h', user: 'u', toolVersion: '0.1.0',
  });
  const write = (p: string): OpIntent => ({ phase: 'stage', kind: 'write', action: 'stage', path: p, dst: `/srv/app.staging/${p}`, ftype: 'file', size: 3, sha256: sha(p), mode: 0o644, undo: 'none' });
  const place = (p: string): OpIntent => ({ phase: 'apply', kind: 'rename', action: 'install', path: p, src: `/srv/app.staging/${p}`, dst: `/srv/app/${p}`, undo: 'rename-back' });
  const file = (p: string, action: string) => ({ path: p, type: 'file' as const, sha256: sha(p + action), size: 3, mode: 0o644, linkTarget: null, action, managed: true });

  const a = j.beginTxn(begin('install', null, '1.0.0'), [file('a.js', 'install'), file('b.js', 'install'), { ...file('notes.txt', 'preserved-install'), managed: false }]);
  j.markOps(a, j.addOps(a, [write('a.js'), write('b.js')]), 'done');
  j.setState(a, 'applying');
  j.markOps(a, j.addOps(a, [place('a.js'), place('b.js')]), 'done');
  j.commitTxn(a);
  j.setState(a, 'done');

  const b = j.beginTxn(begin('update', '1.0.0', '2.0.0'), [file('a.js', 'replace'), file('b.js', 'unchanged'), file('c.js', 'install')]);
  j.markOps(b, j.addOps(b, [write('a.js'), write('c.js')]), 'done');
  j.setState(b, 'applying');
  j.markOps(b, j.addOps(b, [place('a.js'), place('c.js')]), 'done');
  j.commitTxn(b);
  j.setState(b, 'done', { recoveredBy: 'recover' });

  const c = j.beginTxn(begin('update', '2.0.0', '3.0.0'), [file('a.js', 'replace'), file('b.js', 'unchanged'), file('c.js', 'unchanged')]);
  const [w] = j.addOps(c, [write('a.js')]);
  j.markOps(c, [w!], 'done');
  j.setState(c, 'applying');
  const [p, q] = j.addOps(c, [place('a.js'), place('x.js')]);
  j.markOps(c, [p!], 'done');
  j.markOps(c, [q!], 'failed', 'EIO: i/o error, rename');
  j.recordError(c, 'EIO: i/o error, rename', 'E_FS');
  j.setState(c, 'rolling_back', { error: 'ignored: the first error stays', errorCode: 'E_OTHER' });
  const u = j.beginUndo(c, { phase: 'undo', kind: 'rename', action: 'rollback', path: 'a.js', src: '/srv/app/a.js', dst: '/srv/app.staging/a.js', undo: 'none', refSeq: p! }, [w!]);
  j.finishUndo(c, u, p!);
  j.setState(c, 'rolled_back');
  j.close();
}

const master = path.join(tempDir(), 'story.db');
buildStory(master);

/** A fresh copy of the story journal (the WAL is checkpointed into the file on close). */
function copy(): string {
  const f = path.join(tempDir(), 'j.db');
  fs.copyFileSync(master, f);
  return f;
}

function verify(file: string, opts: Parameters<Journal['verifyChain']>[0] = {}) {
  const j = Journal.open(file, { readonly: true });
  try {
    return j.verifyChain(opts);
  } finally {
    j.close();
  }
}

/** The CREATE TRIGGER statements of journal-schema.sql. */
const TRIGGERS = fs.readFileSync(path.resolve(__dirname, '../../../journal-schema.sql'), 'utf8')
  .split('\n').filter((_, i, all) => all.slice(0, i + 1).some((l) => l.startsWith('CREATE TRIGGER')) && !all.slice(0, i + 1).some((l) => l.startsWith('-- Stable audit views')))
  .join('\n');

function dropTriggers(db: Database.Database): void {
  for (const r of db.prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger'`).all() as Array<{ name: string }>) db.exec(`DROP TRIGGER ${r.name}`);
}

/** Runs SQL on a raw connection after dropping the append-only triggers (as an attacker must). */
function tamper(file: string, sql: string): void {
  const db = new Database(file);
  try {
    db.pragma('foreign_keys = OFF'); // as in the sqlite3 shell
    dropTriggers(db);
    db.exec(sql);
    db.exec(TRIGGERS); // put them back, so only the chain can tell
  } finally {
    db.close();
  }
}

const first = (problems: ChainProblem[]) => problems[0] ?? { kind: 'none', record: '', message: '', at: null };

test('a journal written through the API verifies: every record chained once, head at the last', () => {
  const r = verify(master);
  assert.equal(r.problems, []);
  assert.ok(r.intact);
  assert.is(r.txns, 3);
  assert.is(r.migrated, null);
  const db = new Database(master, { readonly: true });
  const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
  const rows = count('SELECT count(*) AS n FROM txn') + count('SELECT count(*) AS n FROM planned_file') + count('SELECT count(*) AS n FROM op') + count('SELECT count(*) AS n FROM event');
  assert.is(r.records, rows);
  assert.is(count('SELECT count(*) AS n FROM op WHERE hash IS NULL OR chain_seq IS NULL'), 0);
  assert.is(count('SELECT count(*) AS n FROM txn WHERE hash IS NULL OR chain_seq IS NULL'), 0);
  assert.equal(db.prepare('SELECT seq, hash FROM chain_head').get(), r.head);
  // One event per state change: 3 txns' states + 1 error + one per markOps/undo call.
  assert.is(count(`SELECT count(*) AS n FROM event WHERE kind = 'error'`), 1);
  db.close();
});

test('each record\'s hash is sha256(previous hash + "\\n" + JSON [table, chain_seq, ...facts]) — the documented recipe', () => {
  const db = new Database(master, { readonly: true });
  const txn = db.prepare('SELECT * FROM txn WHERE id = 1').get() as Record<string, unknown>;
  assert.is(txn.chain_seq, 1);
  const facts = ['id', 'kind', 'app', 'from_version', 'to_version', 'target', 'staging_dir', 'backup_dir', 'keep_backup',
    'manifest_sha256', 'manifest_source', 'pid', 'host', 'user', 'tool_version', 'started_at'].map((c) => txn[c]);
  const want = createHash('sha256').update(`${'0'.repeat(64)}\n${JSON.stringify(['txn', 1, ...facts])}`).digest('hex');
  assert.is(txn.hash, want);
  const next = db.prepare('SELECT * FROM planned_file WHERE chain_seq = 2').get() as Record<string, unknown>;
  const f2 = ['txn_id', 'path', 'type', 'sha256', 'size', 'mode', 'link_target', 'action', 'managed'].map((c) => next[c]);
  assert.is(next.hash, createHash('sha256').update(`${want}\n${JSON.stringify(['planned_file', 2, ...f2])}`).digest('hex'));
  db.close();
});

test('the append-only triggers refuse edits of recorded facts and deletes, and allow state changes', () => {
  const f = copy();
  const db = new Database(f);
  const refused = (sql: string): string => {
    try {
      db.exec(sql);
      return 'allowed';
    } catch (e: unknown) {
      return (e as Error).message;
    }
  };
  assert.match(refused(`UPDATE op SET path = 'evil' WHERE txn_id = 1 AND seq = 1`), /append-only/);
  assert.match(refused(`UPDATE txn SET manifest_sha256 = 'x' WHERE id = 1`), /append-only/);
  assert.match(refused(`UPDATE txn SET hash = 'x' WHERE id = 1`), /append-only/);
  assert.match(refused(`DELETE FROM op WHERE txn_id = 1`), /append-only/);
  assert.match(refused(`DELETE FROM txn WHERE id = 3`), /append-only/);
  assert.match(refused(`UPDATE planned_file SET sha256 = 'x'`), /append-only/);
  assert.match(refused(`DELETE FROM planned_file`), /append-only/);
  assert.match(refused(`UPDATE event SET state = 'done'`), /append-only/);
  assert.match(refused(`DELETE FROM event`), /append-only/);
  assert.match(refused(`DELETE FROM chain_head`), /never deleted/);
  // The engine's own updates are of state columns only.
  assert.is(refused(`UPDATE op SET state = 'done', done_at = 'x', error = NULL WHERE txn_id = 3 AND seq = 1`), 'allowed');
  assert.is(refused(`UPDATE txn SET state = 'done', finished_at = 'x', committed_at = 'y' WHERE id = 3`), 'allowed');
  db.close();
  // ...which the chain then reports, since no event says so.
  const r = verify(f);
  assert.equal(r.problems.map((p) => [p.kind, p.record]).slice(0, 2), [['state', 'txn 3'], ['state', 'txn 3']]);
});

const CASES: Array<{ name: string; sql: string; kind: string; record: string; message: RegExp }> = [
  {
    name: 'an op\'s recorded path edited',
    sql: `UPDATE op SET path = 'evil.js' WHERE txn_id = 2 AND seq = 3`,
    kind: 'hash', record: 'op 3 of txn 2', message: /op 3 of txn 2 \(chain record \d+\) does not match its hash/,
  },
  {
    name: 'a txn\'s manifest sha256 edited',
    sql: `UPDATE txn SET manifest_sha256 = '${'e'.repeat(64)}' WHERE id = 2`,
    kind: 'hash', record: 'txn 2', message: /txn 2 \(chain record \d+\) does not match its hash/,
  },
  {
    name: 'a planned file\'s sha256 edited',
    sql: `UPDATE planned_file SET sha256 = '${'e'.repeat(64)}' WHERE txn_id = 1 AND path = 'b.js'`,
    kind: 'hash', record: `planned_file 'b.js' of txn 1`, message: /does not match its hash/,
  },
  {
    name: 'a failed transaction made to look successful',
    sql: `UPDATE txn SET state = 'done', error = NULL, error_code = NULL WHERE id = 3`,
    kind: 'state', record: 'txn 3', message: /txn 3: state is 'done', but its chained events say 'rolled_back'/,
  },
  {
    name: 'a failed op made to look done',
    sql: `UPDATE op SET state = 'done', error = NULL WHERE txn_id = 3 AND seq = 3`,
    kind: 'state', record: 'op 3 of txn 3', message: /op 3 of txn 3: state is 'done', but its chained events say 'failed'/,
  },
  {
    name: 'an event edited',
    sql: `UPDATE event SET state = 'done' WHERE kind = 'ops' AND state = 'failed'`,
    kind: 'hash', record: 'event', message: /event \d+ of txn 3 \(chain record \d+\) does not match its hash/,
  },
  {
    name: 'an op deleted',
    sql: `DELETE FROM op WHERE txn_id = 2 AND seq = 2`,
    kind: 'missing', record: 'chain record', message: /is missing: the chain jumps from op 1 of txn 2 to/,
  },
  {
    name: 'a whole transaction deleted (txn, plan, ops, events)',
    sql: `DELETE FROM event WHERE txn_id = 2; DELETE FROM op WHERE txn_id = 2; DELETE FROM planned_file WHERE txn_id = 2; DELETE FROM txn WHERE id = 2;`,
    kind: 'missing', record: 'chain record', message: /records \d+ to \d+ are missing: the chain jumps from event \d+ of txn 1 to txn 3/,
  },
  {
    name: 'the last record deleted',
    sql: `DELETE FROM event WHERE chain_seq = (SELECT max(chain_seq) FROM event)`,
    kind: 'missing', record: 'chain record', message: /missing from the end: the chain head says the last record is \d+/,
  },
  {
    name: 'an op inserted by hand',
    sql: `INSERT INTO op (txn_id, seq, phase, kind, path, undo, state, at) VALUES (2, 99, 'apply', 'rename', 'backdoor.js', 'none', 'done', '2024-05-01T10:00:00.000Z')`,
    kind: 'unchained', record: 'op 99 of txn 2', message: /op 99 of txn 2 has no chain position: it was not written by codemate-txn/,
  },
  {
    name: 'an op inserted with a made-up chain position',
    sql: `INSERT INTO op (txn_id, seq, phase, kind, path, undo, state, at, chain_seq, hash) VALUES (2, 99, 'apply', 'rename', 'backdoor.js', 'none', 'pending', '2024-05-01T10:00:00.000Z', 5, '${'0'.repeat(64)}')`,
    kind: 'duplicate', record: 'op 99 of txn 2', message: /claims chain position 5, which .* already holds/,
  },
  {
    name: 'a transaction inserted by hand',
    sql: `INSERT INTO txn (id, kind, app, to_version, state, target, staging_dir, manifest_sha256, manifest_source, pid, host, user, tool_version, started_at, finished_at)
          VALUES (9, 'update', 'demo', '9.9.9', 'done', '/srv/app', '/s', 'x', 'x', 1, 'h', 'u', '0', '2024-05-01T00:00:00.000Z', '2024-05-01T00:00:01.000Z')`,
    kind: 'unchained', record: 'txn 9', message: /txn 9 has no chain position/,
  },
  {
    name: 'an installed file\'s sha256 changed to match a modified file on disk',
    sql: `UPDATE installed SET sha256 = '${'d'.repeat(64)}' WHERE path = 'a.js'`,
    kind: 'installed', record: `installed 'a.js'`, message: /sha256 is "d{64}", but the committed transactions installed "[0-9a-f]{64}"/,
  },
  {
    name: 'a file added to the installed set',
    sql: `INSERT INTO installed VALUES ('backdoor.js', 'file', '${'d'.repeat(64)}', 1, 420, NULL, '2.0.0', 2)`,
    kind: 'installed', record: `installed 'backdoor.js'`, message: /no committed transaction installed it/,
  },
];

for (const c of CASES) {
  test(`verify detects ${c.name}, naming the record`, () => {
    const f = copy();
    tamper(f, c.sql);
    const r = verify(f);
    assert.not.ok(r.intact);
    const p = first(r.problems);
    assert.is(p.kind, c.kind, JSON.stringify(r.problems.slice(0, 3)));
    assert.ok(p.record.startsWith(c.record), `record: ${p.record}`);
    assert.match(p.message, c.message);
  });
}

test('a dropped append-only trigger is reported even when no row changed', () => {
  const f = copy();
  const db = new Database(f);
  db.exec('DROP TRIGGER op_append_only');
  db.close();
  const r = verify(f);
  assert.equal(r.problems.map((p) => [p.kind, p.record]), [['guard', 'trigger op_append_only']]);
});

test('an edit whose hash is recomputed by hand shows at the next record; a full rewrite needs an anchor to be caught', () => {
  const f = copy();
  const before = verify(f);
  const db = new Database(f);
  dropTriggers(db);
  // Rewrite op 1 of txn 2 and recompute its own hash (the attacker knows the recipe).
  const op = db.prepare('SELECT * FROM op WHERE txn_id = 2 AND seq = 1').get() as Record<string, unknown>;
  const prev = (db.prepare('SELECT hash FROM event WHERE chain_seq = ? UNION ALL SELECT hash FROM op WHERE chain_seq = ? UNION ALL SELECT hash FROM planned_file WHERE chain_seq = ? UNION ALL SELECT hash FROM txn WHERE chain_seq = ?')
    .get(...Array(4).fill((op.chain_seq as number) - 1)) as { hash: string }).hash;
  const cols = ['txn_id', 'seq', 'phase', 'kind', 'action', 'path', 'src', 'dst', 'ftype', 'size', 'sha256', 'mode', 'old_mode', 'link_target', 'undo', 'ref_seq', 'at'];
  op.sha256 = 'f'.repeat(64);
  const h = createHash('sha256').update(`${prev}\n${JSON.stringify(['op', op.chain_seq, ...cols.map((c) => op[c])])}`).digest('hex');
  db.prepare('UPDATE op SET sha256 = ?, hash = ? WHERE txn_id = 2 AND seq = 1').run(op.sha256, h);
  db.close();
  const r = verify(f);
  assert.is(first(r.problems).kind, 'hash');
  assert.is(first(r.problems).at, (op.chain_seq as number) + 1, 'the break shows at the record after the rewritten one');
  assert.match(first(r.problems).message, /or op 1 of txn 2 before it was rewritten/);

  // Recompute every later hash and the head too: only an anchor kept outside the journal tells.
  const full = new Database(f);
  const rows: Array<{ table: string; r: Record<string, unknown> }> = [];
  for (const t of ['txn', 'planned_file', 'op', 'event']) for (const r of full.prepare(`SELECT * FROM ${t}`).all() as Array<Record<string, unknown>>) rows.push({ table: t, r });
  rows.sort((a, b) => (a.r.chain_seq as number) - (b.r.chain_seq as number));
  const COLS: Record<string, string[]> = {
    txn: ['id', 'kind', 'app', 'from_version', 'to_version', 'target', 'staging_dir', 'backup_dir', 'keep_backup', 'manifest_sha256', 'manifest_source', 'pid', 'host', 'user', 'tool_version', 'started_at'],
    planned_file: ['txn_id', 'path', 'type', 'sha256', 'size', 'mode', 'link_target', 'action', 'managed'],
    op: cols,
    event: ['txn_id', 'kind', 'seqs', 'state', 'error', 'error_code', 'recovered_by', 'at'],
  };
  let hash = '0'.repeat(64);
  for (const { table, r } of rows) {
    hash = createHash('sha256').update(`${hash}\n${JSON.stringify([table, r.chain_seq, ...(COLS[table] as string[]).map((c) => r[c])])}`).digest('hex');
    full.prepare(`UPDATE ${table} SET hash = ? WHERE chain_seq = ?`).run(hash, r.chain_seq);
  }
  full.prepare('UPDATE chain_head SET hash = ?').run(hash);
  full.exec(TRIGGERS);
  full.close();
  assert.ok(verify(f).intact, 'a complete, consistent rewrite is beyond what a chain inside the file can show');
  const anchored = verify(f, { anchor: before.head! });
  assert.equal(anchored.problems.map((p) => p.kind), ['anchor']);
  assert.match(anchored.problems[0]?.message ?? '', /history up to it was rewritten/);
  assert.ok(verify(master, { anchor: before.head! }).intact, 'the untouched journal has its anchor');
});

test('the first problem is the earliest in the chain; the list is capped', () => {
  const f = copy();
  tamper(f, `UPDATE op SET path = 'x' WHERE txn_id = 3; UPDATE op SET path = 'y' WHERE txn_id = 1 AND seq = 2;`);
  const r = verify(f, { maxProblems: 2 });
  assert.is(first(r.problems).record, 'op 2 of txn 1');
  assert.is(r.problems.length, 2);
  assert.ok(r.truncated);
});

test('strings that SQLite cannot store as given (lone surrogates) do not break the chain', () => {
  const f = path.join(tempDir(), 'j.db');
  const j = Journal.open(f);
  const id = j.beginTxn({
    kind: 'install', app: 'demo\ud800', fromVersion: null, toVersion: '1.0.0', target: '/t', stagingDir: '/t.s', backupDir: null,
    keepBackup: false, manifestSha256: 'x', manifestSource: 'm', pid: 1, host: 'h', user: 'u', toolVersion: '0',
  }, []);
  j.recordError(id, 'bad name \udc00 here', 'E_FS');
  assert.ok(j.verifyChain().intact, JSON.stringify(j.verifyChain().problems));
  j.close();
});

test.run();
