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

test('docs/AUDITING.md has 6 to 10 example queries, each with its output', () => {
  assert.ok(queries.length >= 6 && queries.length <= 10, `found ${queries.length} sql blocks`);
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
  assert.equal(failed.map((r) => [r[0], r[4]]), [[String(demo.ids.failed), 'rolled_back']]);
  assert.match(failed[0]?.[5] ?? '', /does not match the manifest/);
  assert.equal(resultOf('How long the last update took'), [[String(demo.ids.update), '1.0.0', '2.0.0', '3510']]);
  assert.equal(resultOf('Unfinished transactions'), []);
  assert.equal(resultOf('Every transaction').map((r) => r[0]), ['3', '2', '1']);
});

test('path history and changed files follow the ops the transactions journaled', () => {
  const history = resultOf('The history of one path');
  assert.equal(history.map((r) => [r[0], r[3], r[4]]), [
    ['1', 'write', 'done'],
    ['2', 'write', 'done'], ['2', 'rename', 'done'], ['2', 'rename', 'done'],
    ['3', 'write', 'failed'],
  ]);
  const changed = resultOf('Files changed by a transaction').map((r) => r[0]);
  assert.equal(changed, ['.codemate-version', 'index.js', 'lib/current', 'lib/v1', 'lib/v1/a.js', 'lib/v2', 'lib/v2/a.js']);
  assert.not.ok(changed.includes('README.md'), 'an unchanged file is not listed');
});

test('the documented columns of each view are its real columns, in order', () => {
  for (const view of ['txn_history', 'op_log', 'installed_files']) {
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

test('the queries cannot write: the shell refuses an UPDATE on the read-only journal', () => {
  const r = runSqlite3(demo.journal, `UPDATE txn SET state = 'done' WHERE id = 3;`);
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /readonly/);
});

test.run();
