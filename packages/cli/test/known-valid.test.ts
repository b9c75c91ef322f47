/**
 * Re-applying the installed release skips the manifest's schema and path-rule passes (issue 7: a
 * no-op should cost little more than starting up), but only for the very bytes the installed
 * transaction applied with this version of the code; any other bytes get every check.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tempDir, makeRelease, runCli, cleanupTemps, sqlite3, sqlite3Available, type CliResult } from '@codemate-txn/testkit';

test.after(cleanupTemps);

const show = (r: CliResult): string => `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
const json = (r: CliResult): Record<string, unknown> => JSON.parse(r.stdout) as Record<string, unknown>;

test('the installed manifest re-applied skips the schema and path passes; other bytes, or another tool version, get them all', async () => {
  const work = tempDir();
  const tree = { 'a.txt': 'a\n', 'b/c.txt': 'c\n' };
  const m = await makeRelease(path.join(work, 'rel'), { app: 'demo', version: '1.0.0', tree });
  const target = path.join(work, 't', 'app');
  const first = runCli(['apply', m, '--target', target, '--json']);
  assert.is(first.code, 0, show(first));
  assert.is(json(first).manifestKnownValid, false, 'a first install checks everything');

  const again = runCli(['apply', m, '--target', target, '--json']);
  assert.is(again.code, 0, show(again));
  assert.is(json(again).kind, 'noop');
  assert.is(json(again).manifestKnownValid, true, 'the same bytes: known valid');

  // --repair still repairs from known-valid bytes.
  fs.writeFileSync(path.join(target, 'a.txt'), 'drifted\n');
  const repair = runCli(['apply', m, '--target', target, '--repair', '--json']);
  assert.is(repair.code, 0, show(repair));
  assert.is(json(repair).manifestKnownValid, true);
  assert.is(fs.readFileSync(path.join(target, 'a.txt'), 'utf8'), 'a\n');

  // The same release with one more byte of whitespace: other bytes, full checks.
  const spaced = path.join(work, 'rel', 'spaced.json');
  fs.writeFileSync(spaced, fs.readFileSync(m, 'utf8') + ' ');
  const other = runCli(['apply', spaced, '--target', target, '--json']);
  assert.is(other.code, 0, show(other));
  assert.is(json(other).manifestKnownValid, false);

  // Applied by another version of the code (which may have had other rules): full checks.
  if (!sqlite3Available()) {
    console.log('  skipped the tool-version part: no sqlite3 shell');
    return;
  }
  sqlite3(`${target}.journal.db`, `DROP TRIGGER txn_append_only; UPDATE txn SET tool_version = '0.0.1';`);
  const older = runCli(['apply', m, '--target', target, '--json']);
  assert.is(older.code, 0, show(older));
  assert.is(json(older).manifestKnownValid, false);
});

test('a manifest whose bytes are known valid but break a rule of this version is still refused when the bytes differ', async () => {
  // Known-valid is keyed by the exact bytes: a path-rule violation in any other manifest is caught.
  const work = tempDir();
  const m = await makeRelease(path.join(work, 'rel'), { app: 'demo', version: '1.0.0', tree: { 'a.txt': 'a\n' } });
  const target = path.join(work, 't', 'app');
  assert.is(runCli(['apply', m, '--target', target, '--quiet']).code, 0);
  const bad = JSON.parse(fs.readFileSync(m, 'utf8')) as { files: Array<{ path: string }> };
  bad.files[0]!.path = '../escape.txt';
  const badPath = path.join(work, 'rel', 'bad.json');
  fs.writeFileSync(badPath, JSON.stringify(bad));
  const r = runCli(['apply', badPath, '--target', target, '--json']);
  assert.is(r.code, 2, show(r));
  assert.is((json(r).error as { code: string }).code, 'E_PATH_DOTDOT');
});

test.run();
