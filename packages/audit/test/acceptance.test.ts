/**
 * Issue 6's acceptance, on a journal the real engine wrote (install 1.0.0, update to 2.0.0, a
 * failed update to 3.0.0): log, show, status, verify and every documented SQL query give the
 * right answers; verify finds a modified, a missing and a chmodded file and ignores preserved
 * ones; and editing, deleting or inserting any history row with the sqlite3 shell is caught by
 * verify --journal, which names the record.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatLog, formatShow, formatStatus, formatVerifyJournal, log, logJsonl, show, status, verify, verifyJournal } from '@codemate-txn/audit';
import { cleanupTemps, sqlite3, sqlite3Available, sqlite3Json } from '@codemate-txn/testkit';
import { buildEngineStory, type EngineStory } from './helpers/engine-story.js';

test.after(cleanupTemps);

let s: EngineStory;

test.before(async () => {
  assert.ok(sqlite3Available(), 'these tests need the sqlite3 shell on PATH');
  s = await buildEngineStory();
});

/** A copy of the story's journal under a new name, with the target beside it unchanged. */
function journalCopy(name: string): string {
  const f = path.join(s.root, 'inst', `${name}.db`);
  fs.copyFileSync(s.journal, f);
  return f;
}

// --- log, show, status -------------------------------------------------------------------------

test('log: the three transactions newest first, with who ran them and from which manifest', () => {
  const rows = log({ target: s.target });
  assert.equal(rows.map((t) => [t.id, t.kind, t.fromVersion, t.toVersion, t.state, t.errorCode]), [
    [s.ids.failed, 'update', '2.0.0', '3.0.0', 'rolled_back', 'E_STAGE_VERIFY'],
    [s.ids.update, 'update', '1.0.0', '2.0.0', 'done', null],
    [s.ids.install, 'install', null, '1.0.0', 'done', null],
  ]);
  for (const t of rows) {
    assert.equal([t.user, t.host, t.pid, t.toolVersion], ['auditor-test', 'audit-host', 31337, s.ctx.toolVersion]);
    assert.match(t.hash ?? '', /^[0-9a-f]{64}$/);
    assert.ok(t.chainSeq !== null && t.chainSeq > 0);
  }
  assert.equal(rows.map((t) => [t.manifestSource, t.manifestSha256]).reverse(), [
    [s.manifests.v1, s.sha256.v1], [s.manifests.v2, s.sha256.v2], [s.manifests.v3, s.sha256.v3],
  ]);
  assert.ok(rows[1]?.committedAt !== null && rows[2]?.committedAt !== null, 'the done transactions recorded their commit time');
  assert.is(rows[0]?.committedAt, null, 'the rolled-back one never committed');
  assert.match(rows[0]?.error ?? '', /lib\/v3\/new\.js/);
  const jsonl = logJsonl(rows).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(jsonl.map((o) => [o.user, o.host, o.manifestSource, o.hash]), rows.map((t) => [t.user, t.host, t.manifestSource, t.hash]));
  const table = formatLog(rows);
  assert.match(table, /^3\s+\S+\s+update\s+demo\s+2\.0\.0 → 3\.0\.0\s+rolled_back\s+\S+\s+E_STAGE_VERIFY: /m);
});

test('show: the update\'s ops and counts match what apply reported; the failed one names its error', () => {
  const r = show({ target: s.target, txnId: s.ids.update });
  const c = s.results.update.counts;
  const p = r.counts.planned;
  assert.equal(
    { installed: (p['install'] ?? 0) + (p['preserved-install'] ?? 0), replaced: p['replace'] ?? 0, unchanged: p['unchanged'] ?? 0, preserved: p['preserved'] ?? 0, chmod: p['chmod'] ?? 0 },
    { installed: c.installed, replaced: c.replaced, unchanged: c.unchanged, preserved: c.preserved, chmod: c.chmod },
  );
  assert.is(r.counts.bytesStaged, s.results.update.bytesStaged);
  assert.is(r.counts.byState.pending, 0);
  assert.is(r.counts.byState.failed, 0);
  const apply = r.ops.filter((o) => o.phase === 'apply').map((o) => `${o.kind} ${o.action} ${o.path}`);
  for (const want of ['rename replace index.js', 'rename install lib/v2/a.js', 'chmod chmod bin/helper', 'rename version .codemate-version']) {
    assert.ok(apply.includes(want), `${want} in ${JSON.stringify(apply)}`);
  }
  assert.ok(apply.some((a) => a.startsWith('rename remove lib/v1')), 'the removal is journaled');
  const text = formatShow(r);
  assert.match(text, /^by\s+auditor-test@audit-host pid 31337, codemate-txn \S+$/m);
  assert.ok(text.includes(`${s.manifests.v2} (sha256 ${s.sha256.v2})`));

  const f = show({ target: s.target, txnId: s.ids.failed });
  assert.is(f.txn.state, 'rolled_back');
  assert.equal(f.ops.filter((o) => o.state === 'failed').map((o) => [o.kind, o.path]), [['write', 'lib/v3/new.js']]);
  assert.match(formatShow(f), /^error\s+E_STAGE_VERIFY: /m);
});

test('status: 2.0.0 installed by the update, the failed update last, nothing unfinished, lock free', () => {
  const r = status({ target: s.target });
  assert.equal(r.installed, { app: 'demo', version: '2.0.0', txnId: s.ids.update });
  assert.is(r.lastTxn?.id, s.ids.failed);
  assert.equal(r.interrupted, []);
  assert.not.ok(r.lock.held);
  const text = formatStatus(r);
  assert.match(text, /^installed\s+demo 2\.0\.0 \(transaction 2\), 6 files$/m);
  assert.match(text, /^last\s+#3 update demo 2\.0\.0 → 3\.0\.0: rolled_back/m);
});

// --- verify (disk) -------------------------------------------------------------------------------

test('verify is clean right after the story, and ignores the user\'s preserved files', async () => {
  const r = await verify({ target: s.target });
  assert.equal(r.drift, []);
  assert.ok(r.clean);
  fs.writeFileSync(path.join(s.target, 'config/user_settings.json'), 'edited by the user');
  fs.writeFileSync(path.join(s.target, 'user_data/notes.db'), 'edited');
  assert.ok((await verify({ target: s.target })).clean);
});

test('verify finds a modified, a missing and a chmodded file', async () => {
  const root = path.join(s.root, 'drift');
  fs.cpSync(path.join(s.root, 'inst'), root, { recursive: true, verbatimSymlinks: true });
  const target = path.join(root, 'app');
  fs.writeFileSync(path.join(target, 'index.js'), 'module.exports = 9\n');
  fs.rmSync(path.join(target, 'lib/v2/a.js'));
  fs.chmodSync(path.join(target, 'bin/tool'), 0o600);
  const r = await verify({ target });
  assert.equal(r.drift.map((d) => `${d.kind} ${d.path}`), ['mode bin/tool', 'modified index.js', 'missing lib/v2/a.js']);
  assert.not.ok(r.clean);
});

// --- the documented SQL on the real journal ------------------------------------------------------

test('every query of docs/AUDITING.md runs on the engine\'s journal and answers the story', () => {
  const md = fs.readFileSync(path.resolve(__dirname, '../../../docs/AUDITING.md'), 'utf8');
  const blocks: Array<{ heading: string; sql: string }> = [];
  let heading = '';
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.startsWith('#')) heading = line.replace(/^#+ /, '');
    if (line !== '```sql') continue;
    const end = lines.indexOf('```', i + 1);
    blocks.push({ heading, sql: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  assert.ok(blocks.length >= 10, `found ${blocks.length} queries`);
  const answers = new Map(blocks.map((b) => [b.heading, sqlite3Json(s.journal, b.sql, { readonly: true })]));
  const get = (start: string) => {
    const k = [...answers.keys()].find((h) => h.startsWith(start));
    assert.ok(k, `no query "${start}"`);
    return answers.get(k) as Array<Record<string, unknown>>;
  };
  assert.equal(get('What is installed').map((r) => [r.path, r.version, r.mode]), [
    ['README.md', '1.0.0', '644'], ['bin/helper', '2.0.0', '755'], ['bin/tool', '1.0.0', '755'], ['index.js', '2.0.0', '644'],
    ['lib/current', '2.0.0', null], ['lib/v2/a.js', '2.0.0', '644'],
  ]);
  assert.equal(get('The installed version').map((r) => [r.app, r.version, r.txn_id]), [['demo', '2.0.0', s.ids.update]]);
  assert.equal(get('Every transaction').map((r) => [r.id, r.state]), [[3, 'rolled_back'], [2, 'done'], [1, 'done']]);
  const summary = get('What each transaction changed');
  for (const [id, res] of [[s.ids.install, s.results.install], [s.ids.update, s.results.update]] as const) {
    const row = summary.find((r) => r.id === id) as Record<string, unknown>;
    assert.equal(
      { installed: row.installed, replaced: row.replaced, removed: row.removed, unchanged: row.unchanged, preserved: row.preserved, chmod: row.chmod },
      res.counts, `txn_summary of txn ${id} is what apply counted`,
    );
    assert.is(row.bytes_staged, res.bytesStaged, `bytes staged by txn ${id}`);
  }
  assert.equal(get('Failed transactions').map((r) => [r.id, r.error_code]), [[s.ids.failed, 'E_STAGE_VERIFY']]);
  assert.equal(get('How long the last update took').map((r) => r.id), [s.ids.update]);
  assert.equal(get('Every version of one file').map((r) => [r.txn_id, r.version, r.action]), [[1, '1.0.0', 'install'], [2, '2.0.0', 'replace']]);
  assert.equal(get('Files changed by a transaction').map((r) => `${String(r.action)} ${String(r.path)}`), [
    'chmod bin/helper', 'replace index.js', 'replace lib/current', 'remove lib/v1/a.js', 'install lib/v2/a.js',
  ]);
  const onPath = get('Every operation on one path');
  assert.ok(onPath.some((r) => r.txn_id === 2 && r.action === 'replace' && r.state === 'done'), 'the update placed index.js');
  assert.equal(get('Operations that failed').map((r) => [r.txn_id, r.path]), [[s.ids.failed, 'lib/v3/new.js']]);
  assert.equal(get('Unfinished transactions'), []);
  assert.equal(get('Who ran each transaction').map((r) => [r.user, r.host, r.pid, r.manifest_sha256]), [
    ['auditor-test', 'audit-host', 31337, s.sha256.v1], ['auditor-test', 'audit-host', 31337, s.sha256.v2], ['auditor-test', 'audit-host', 31337, s.sha256.v3],
  ]);
  const events = get('How a transaction unfolded').map((r) => `${String(r.kind)} ${String(r.state)}`);
  assert.is(events[events.length - 1], 'state rolled_back');
  assert.ok(events.includes('ops failed') && events.includes('state rolling_back'));
});

// --- verify --journal ------------------------------------------------------------------------------

test('verify --journal: the engine\'s journal is intact, and stays so after another apply', () => {
  const r = verifyJournal({ target: s.target });
  assert.equal(r.problems, []);
  assert.ok(r.intact);
  assert.is(r.txns, 3);
  assert.match(formatVerifyJournal(r), /^intact: the journal's history verifies: \d+ records chained, 3 transactions/);
});

/** Edits a copy of the journal through the sqlite3 shell, as an auditor (or an attacker) would. */
function tamperWithShell(name: string, sql: string, dropTriggers = true): string {
  const f = journalCopy(name);
  const drop = dropTriggers
    ? (sqlite3(f, `SELECT 'DROP TRIGGER ' || name || ';' FROM sqlite_master WHERE type = 'trigger'`) + '\n')
    : '';
  sqlite3(f, `${drop}${sql}`);
  return f;
}

const SHELL_CASES: Array<{ name: string; sql: string; record: RegExp; kind: string }> = [
  { name: 'an edited historical op (its path)', sql: `UPDATE op SET path = 'innocent.js' WHERE txn_id = 2 AND seq = 3;`, record: /^op 3 of txn 2$/, kind: 'hash' },
  { name: 'an edited transaction (its manifest sha256)', sql: `UPDATE txn SET manifest_sha256 = '${'a'.repeat(64)}' WHERE id = 1;`, record: /^txn 1$/, kind: 'hash' },
  { name: 'an edited transaction (who ran it)', sql: `UPDATE txn SET user = 'someone-else' WHERE id = 2;`, record: /^txn 2$/, kind: 'hash' },
  { name: 'the failed update rewritten as done', sql: `UPDATE txn SET state = 'done', error = NULL, error_code = NULL WHERE id = 3;`, record: /^txn 3$/, kind: 'state' },
  { name: 'an edited plan (a file\'s expected sha256)', sql: `UPDATE planned_file SET sha256 = '${'b'.repeat(64)}' WHERE txn_id = 2 AND path = 'index.js';`, record: /^planned_file 'index\.js' of txn 2$/, kind: 'hash' },
  { name: 'a deleted op', sql: `DELETE FROM op WHERE txn_id = 2 AND seq = 3;`, record: /^chain record \d+$/, kind: 'missing' },
  { name: 'a deleted event (the failure of an op)', sql: `DELETE FROM event WHERE kind = 'ops' AND state = 'failed';`, record: /^chain record \d+$/, kind: 'missing' },
  { name: 'an inserted op', sql: `INSERT INTO op (txn_id, seq, phase, kind, path, undo, state, at) VALUES (2, 999, 'apply', 'rename', 'backdoor.js', 'none', 'done', '2024-01-01T00:00:00.000Z');`, record: /^op 999 of txn 2$/, kind: 'unchained' },
  { name: 'an inserted transaction', sql: `INSERT INTO txn (kind, app, to_version, state, target, staging_dir, manifest_sha256, manifest_source, pid, host, user, tool_version, started_at) VALUES ('update', 'demo', '2.0.1', 'done', '/x', '/x.s', 'x', 'x', 1, 'h', 'u', '0', '2024-01-01T00:00:00.000Z');`, record: /^txn 4$/, kind: 'unchained' },
  { name: 'an installed file\'s sha256 changed (to hide a modified file from verify)', sql: `UPDATE installed SET sha256 = '${'c'.repeat(64)}' WHERE path = 'index.js';`, record: /^installed 'index\.js'$/, kind: 'installed' },
];

for (const c of SHELL_CASES) {
  test(`verify --journal catches ${c.name} made with the sqlite3 shell, naming the record`, () => {
    const f = tamperWithShell(c.name.replace(/\W+/g, '-'), c.sql);
    const r = verifyJournal({ target: s.target, journal: f });
    assert.not.ok(r.intact);
    const first = r.problems[0];
    assert.ok(first, 'a problem is reported');
    assert.is(first.kind, c.kind, JSON.stringify(r.problems.slice(0, 3)));
    assert.match(first.record, c.record);
    // The dropped triggers are reported too.
    assert.ok(r.problems.some((p) => p.kind === 'guard'));
    const text = formatVerifyJournal(r);
    assert.match(text, /^tampered: the journal's history does not verify: /);
    assert.ok(text.includes(`first problem: ${first.message}`));
  });
}

test('without dropping the triggers the sqlite3 shell cannot edit or delete history', () => {
  const f = journalCopy('guarded');
  for (const sql of [`UPDATE op SET path = 'x' WHERE txn_id = 2 AND seq = 3;`, `DELETE FROM op WHERE txn_id = 2;`, `DELETE FROM txn WHERE id = 3;`, `UPDATE event SET state = 'done';`]) {
    assert.throws(() => sqlite3(f, sql), /append-only/, sql);
  }
  assert.ok(verifyJournal({ target: s.target, journal: f }).intact);
});

test.run();
