/**
 * docs/AUDITING.md is executable: every ```sql block runs through the real `sqlite3` shell on a
 * journal written through the Journal API, and its output must equal the ```text block printed
 * under it. The main questions are also checked against what the journal API says, so a query
 * and its printed output cannot drift wrong together; the views' documented columns must be the
 * views' real columns.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Journal } from '@codemate-txn/journal';
import { show, verifyJournal } from '@codemate-txn/audit';
import { buildDemo, CONTENT } from './helpers/demo-journal.js';
import { sha256 } from './helpers/temp-tree.js';

const DOC = path.resolve(__dirname, '../../../docs/AUDITING.md');
const SQLITE3 = process.env['SQLITE3'] ?? 'sqlite3';

interface Query {
  heading: string;
  sql: string;
  /** The ```text block right under the query, if any. */
  output: string | undefined;
}

function extractQueries(md: string): Query[] {
  const out: Query[] = [];
  const lines = md.split('\n');
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (/^#{1,6} /.test(line)) heading = line.replace(/^#+ /, '').trim();
    if (line.trim() !== '```sql') continue;
    const end = lines.indexOf('```', i + 1);
    assert.ok(end > i, `unterminated sql block under "${heading}"`);
    const sql = lines.slice(i + 1, end).join('\n');
    i = end;
    let j = i + 1;
    while (j < lines.length && (lines[j] as string).trim() === '') j++;
    let output: string | undefined;
    if ((lines[j] as string | undefined)?.trim() === '```text') {
      const close = lines.indexOf('```', j + 1);
      assert.ok(close > j, `unterminated text block under "${heading}"`);
      output = lines.slice(j + 1, close).join('\n');
      i = close;
    }
    out.push({ heading, sql, output });
  }
  return out;
}

/** Runs as the doc tells auditors to: `sqlite3 -readonly -header JOURNAL "QUERY"`. */
function runSqlite3(db: string, sql: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(SQLITE3, ['-readonly', '-batch', '-bail', '-header', db, sql], { encoding: 'utf8' });
  if (r.error) throw new Error(`could not run ${SQLITE3}: ${r.error.message} (install the sqlite3 shell, or set SQLITE3)`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** List-mode rows without the header, as arrays of columns. */
function rows(stdout: string): string[][] {
  return stdout.replace(/\n$/, '').split('\n').slice(1).filter((l) => l !== '').map((l) => l.split('|'));
}

const md = fs.readFileSync(DOC, 'utf8');
const queries = extractQueries(md);
const demo = buildDemo();
const results = new Map<string, { stdout: string }>();

function resultOf(headingStart: string): string[][] {
  const q = queries.find((x) => x.heading.startsWith(headingStart));
  assert.ok(q, `docs/AUDITING.md has no query under a heading starting "${headingStart}"`);
  const r = results.get(q.heading) ?? runSqlite3(demo.journal, q.sql);
  return rows(r.stdout);
}

test('docs/AUDITING.md has 6 to 14 example queries, each with its output', () => {
  assert.ok(queries.length >= 6 && queries.length <= 14, `found ${queries.length} sql blocks`);
  for (const q of queries) assert.ok(q.output !== undefined, `the query under "${q.heading}" has no \`\`\`text output block`);
});

test('every query runs in the sqlite3 shell, read-only, and prints the documented output', () => {
  for (const q of queries) {
    const r = runSqlite3(demo.journal, q.sql);
    assert.is(r.stderr, '', `"${q.heading}" wrote to stderr`);
    assert.is(r.status, 0, `"${q.heading}" failed`);
    results.set(q.heading, r);
    const got = r.stdout.replace(/\n$/, '');
    assert.fixture(got, q.output ?? '', `output of "${q.heading}"`);
  }
});

test('installed files: the journal API agrees with the query', () => {
  const got = resultOf('What is installed');
  const j = Journal.open(demo.journal, { readonly: true });
  const api = j.installedFiles().filter((f) => f.type !== 'dir');
  j.close();
  assert.equal(got.map((r) => [r[0], r[1]]), api.map((f) => [f.path, f.version]));
  const index = got.find((r) => r[0] === 'index.js');
  assert.equal(index, ['index.js', '2.0.0', '644', '19', sha256(CONTENT.index2)]);
  assert.equal(got.find((r) => r[0] === 'bin/tool')?.slice(1, 3), ['1.0.0', '755'], 'an unchanged file keeps the version that wrote it');
  assert.not.ok(got.some((r) => r[0] === 'config/user_settings.json'), 'preserved files are not listed');
});

test('installed version, failures, duration and unfinished answer the story', () => {
  assert.equal(resultOf('The installed version').map((r) => r.slice(0, 3)), [['demo', '2.0.0', String(demo.ids.update)]]);
  const failed = resultOf('Failed transactions');
  assert.equal(failed.map((r) => [r[0], r[4], r[5]]), [[String(demo.ids.failed), 'rolled_back', 'E_STAGE_VERIFY']]);
  assert.match(failed[0]?.[6] ?? '', /does not match the manifest/);
  assert.equal(resultOf('How long the last update took'), [[String(demo.ids.update), '1.0.0', '2.0.0', '3510']]);
  assert.equal(resultOf('Unfinished transactions'), []);
  assert.equal(resultOf('Every transaction').map((r) => r[0]), ['3', '2', '1']);
});

test('txn_summary agrees with show\'s counts for every transaction', () => {
  const got = resultOf('What each transaction changed');
  for (const id of [demo.ids.install, demo.ids.update, demo.ids.failed]) {
    const r = show({ target: demo.target, txnId: id });
    const row = got.find((x) => x[0] === String(id));
    assert.ok(row, `txn ${id} in txn_summary`);
    const p = r.counts.planned;
    assert.equal(row.slice(4, 12).map(Number), [
      (p['install'] ?? 0) + (p['preserved-install'] ?? 0), p['replace'] ?? 0, Number(row[6]), p['unchanged'] ?? 0,
      p['preserved'] ?? 0, p['chmod'] ?? 0, r.counts.bytesStaged, r.counts.durationMs ?? NaN,
    ], `txn ${id}`);
  }
  // removed: what left the installed set (lib/v1/a.js in the update), nothing for the others.
  assert.equal(got.map((r) => r[6]), ['0', '1', '0']);
});

test('file history and changed files follow the plans of the committed transactions', () => {
  const versions = resultOf('Every version of one file');
  assert.equal(versions.map((r) => [r[0], r[1], r[2], r[3]]), [
    [String(demo.ids.install), '1.0.0', 'install', sha256(CONTENT.index1)],
    [String(demo.ids.update), '2.0.0', 'replace', sha256(CONTENT.index2)],
  ], 'the rolled-back update never changed index.js');
  const changed = resultOf('Files changed by a transaction').map((r) => `${r[1]} ${r[0]}`);
  assert.equal(changed, ['replace index.js', 'replace lib/current', 'remove lib/v1/a.js', 'install lib/v2/a.js']);
  assert.not.ok(changed.some((c) => c.endsWith('README.md')), 'an unchanged file is not listed');
});

test('the operations on one path follow the ops the transactions journaled', () => {
  const history = resultOf('Every operation on one path');
  assert.equal(history.map((r) => [r[0], r[3], r[4], r[6]]), [
    ['1', 'stage', 'write', 'done'],
    ['2', 'stage', 'write', 'done'], ['2', 'apply', 'rename', 'done'], ['2', 'apply', 'rename', 'done'],
    ['3', 'stage', 'write', 'failed'],
  ]);
  const j = Journal.open(demo.journal, { readonly: true });
  const failedOps = [demo.ids.install, demo.ids.update, demo.ids.failed].flatMap((id) => j.ops(id)).filter((o) => o.state === 'failed');
  j.close();
  assert.equal(resultOf('Operations that failed').map((r) => [r[0], r[1], r[4]]), failedOps.map((o) => [String(o.txnId), String(o.seq), o.path]));
});

test('how a transaction unfolded: its events, in chain order', () => {
  const events = resultOf('How a transaction unfolded').map((r) => `${r[1]} ${r[2]} ${r[3]}`);
  assert.equal(events, ['ops [1] done', 'ops [2] failed', 'state  rolling_back', 'ops [3] done', 'ops [1] undone', 'state  rolled_back']);
});

test('the documented columns of each view are its real columns, in order', () => {
  for (const view of ['txn_history', 'txn_summary', 'op_log', 'installed_files', 'file_history']) {
    const start = md.indexOf(`### \`${view}\``);
    assert.ok(start >= 0, `no section for ${view}`);
    const next = md.indexOf('\n#', start + 1);
    const section = md.slice(start, next < 0 ? md.length : next);
    const documented = [...section.matchAll(/^\| `([a-z0-9_]+)` \|/gm)].map((m) => m[1]);
    const r = runSqlite3(demo.journal, `SELECT name FROM pragma_table_info('${view}') ORDER BY cid;`);
    assert.is(r.status, 0, r.stderr);
    assert.equal(documented, rows(r.stdout).map((x) => x[0]), `columns of ${view}`);
  }
});

test('the documented chain facts are the ones hashed, and the documented recipe reproduces a stored hash', () => {
  const table = md.slice(md.indexOf('| table | facts |'));
  const facts = (t: string): string[] => {
    const m = new RegExp('^\\| `' + t + '` \\| `([^`]+)` \\|', 'm').exec(table);
    assert.ok(m, `facts of ${t} documented`);
    return (m[1] as string).split(',').map((c) => c.trim());
  };
  const r = runSqlite3(demo.journal, `SELECT chain_seq, hash, ${facts('txn').join(', ')} FROM txn WHERE id = 2;`);
  const j = Journal.open(demo.journal, { readonly: true });
  const prevSeq = (j.getTxn(2)?.chainSeq ?? 0) - 1;
  const prev = j.query<{ hash: string }>(`SELECT hash FROM event WHERE chain_seq = ? UNION ALL SELECT hash FROM op WHERE chain_seq = ? UNION ALL SELECT hash FROM planned_file WHERE chain_seq = ?`, prevSeq, prevSeq, prevSeq)[0]?.hash;
  const row = j.query<Record<string, unknown>>(`SELECT * FROM txn WHERE id = 2`)[0] as Record<string, unknown>;
  j.close();
  assert.is(r.status, 0);
  const want = sha256(`${prev}\n${JSON.stringify(['txn', row.chain_seq, ...facts('txn').map((c) => row[c])])}`);
  assert.is(row.hash, want);
  for (const t of ['planned_file', 'op', 'event']) assert.ok(facts(t).length > 0);
  assert.equal(facts('event'), ['txn_id', 'kind', 'seqs', 'state', 'error', 'error_code', 'recovered_by', 'at']);
});

const PYTHON = process.env['PYTHON3'] ?? 'python3';
const hasPython = spawnSync(PYTHON, ['--version']).status === 0;

test('the documented Python checker agrees with verify --journal: intact, then broken by an edit', () => {
  if (!hasPython) {
    console.warn(`skipped: no ${PYTHON} on PATH to run the documented checker`);
    return;
  }
  const start = md.indexOf('```python\n');
  assert.ok(start >= 0, 'the doc has a python block');
  const script = md.slice(start + '```python\n'.length, md.indexOf('\n```', start + 1));
  const file = path.join(path.dirname(demo.journal), 'check-chain.py');
  fs.writeFileSync(file, script);
  const ok = spawnSync(PYTHON, [file, demo.journal], { encoding: 'utf8' });
  assert.is(ok.status, 0, ok.stderr);
  const head = verifyJournal({ target: demo.target }).head;
  assert.is(ok.stdout.trim(), `intact: ${head?.seq} records, head ${head?.seq}:${head?.hash}`);
  const copy = path.join(path.dirname(demo.journal), 'tampered.db');
  fs.copyFileSync(demo.journal, copy);
  const edit = spawnSync(SQLITE3, ['-batch', '-bail', copy, `DROP TRIGGER op_append_only; UPDATE op SET path = 'evil' WHERE txn_id = 2 AND seq = 4;`], { encoding: 'utf8' });
  assert.is(edit.status, 0, edit.stderr);
  const bad = spawnSync(PYTHON, [file, copy], { encoding: 'utf8' });
  assert.is(bad.status, 1);
  const seq = (verifyJournal({ target: demo.target, journal: copy }).problems[0]?.at ?? 0);
  assert.is(bad.stderr.trim(), `broken at record ${seq} (op): its hash does not match`);
});

test('the queries cannot write: the shell refuses an UPDATE on the read-only journal', () => {
  const r = runSqlite3(demo.journal, `UPDATE txn SET state = 'done' WHERE id = 3;`);
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /readonly/);
});

test.run();
