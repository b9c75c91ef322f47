/**
 * Issue 5, acceptance: one case per manifest path rule through the real CLI: exit 2, the rule's
 * own error code in the --json output, the entry named, and the installed target untouched.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { apply, defaultContext } from '@codemate-txn/engine';
import { loadManifestFile } from '@codemate-txn/manifest';
import { tempDir, makeRelease, snapshotTree, runCli, cleanupTemps } from '@codemate-txn/testkit';

test.after(cleanupTemps);

const H = createHash('sha256').update('z').digest('hex');
const f = (p: string) => ({ path: p, size: 1, sha256: H, mode: '644' });
const l = (p: string, target: string) => ({ path: p, type: 'symlink', target });

/** [rule code, files] — one manifest per case; every case breaks exactly one rule. */
const CASES: Array<[string, unknown[]]> = [
  ['E_PATH_DOTDOT', [f('../x')]],
  ['E_PATH_DOTDOT', [f('sub/../../x')]],
  ['E_PATH_DOT', [f('./x')]],
  ['E_PATH_DOT', [f('a/./x')]],
  ['E_PATH_EMPTY_SEGMENT', [f('a//x')]],
  ['E_PATH_EMPTY_SEGMENT', [f('a/')]],
  ['E_PATH_ABSOLUTE', [f('/abs/x')]],
  ['E_PATH_DRIVE', [f('C:x')]],
  ['E_PATH_DRIVE', [f('c:/x')]],
  ['E_PATH_UNC', [f('//server/share/x')]],
  ['E_PATH_BACKSLASH', [f('sub\\x')]],
  ['E_PATH_CONTROL_CHAR', [f('a\u0000b')]],
  ['E_PATH_CONTROL_CHAR', [f('a\u0007b')]],
  ['E_PATH_CONTROL_CHAR', [f('a\u001fb')]],
  ['E_PATH_COLON', [f('file.txt:stream')]],
  ['E_PATH_RESERVED_NAME', [f('CON')]],
  ['E_PATH_RESERVED_NAME', [f('con.txt')]],
  ['E_PATH_RESERVED_NAME', [f('sub/Com1.log')]],
  ['E_PATH_RESERVED_NAME', [f('lpt9')]],
  ['E_PATH_RESERVED_NAME', [f('aux.tar.gz')]],
  ['E_PATH_TRAILING_DOT_SPACE', [f('name.')]],
  ['E_PATH_TRAILING_DOT_SPACE', [f('dir /x')]],
  ['E_PATH_TOO_LONG', [f('a'.repeat(256))]],
  ['E_PATH_TOO_LONG', [f(Array.from({ length: 20 }, () => 'b'.repeat(250)).join('/'))]],
  ['E_PATH_NOT_NFC', [f('cafe\u0301.txt')]],
  ['E_PATH_DUPLICATE', [f('a.txt'), f('a.txt')]],
  ['E_PATH_CASE_COLLISION', [f('Readme.md'), f('README.md')]],
  ['E_PATH_CASE_COLLISION', [f('Docs/a'), f('docs/b')]],
  ['E_PATH_NORMALIZATION_COLLISION', [f('\ufb01le'), f('file')]],
  ['E_PATH_FILE_IS_PARENT', [f('a'), f('a/b')]],
  ['E_PATH_FILE_IS_PARENT', [l('lib', 'x'), f('lib/y')]],
  ['E_PATH_RESERVED', [f('.codemate-version')]],
  ['E_PATH_EMPTY', [f('')]],
  ['E_SYMLINK_ESCAPE', [l('abs', '/etc/passwd')]],
  ['E_SYMLINK_ESCAPE', [l('up', '../outside')]],
  ['E_SYMLINK_ESCAPE', [l('deep/up', '../../x')]],
  ['E_SYMLINK_ESCAPE', [l('d', 'sub'), l('sub', '..'), l('e', 'd/../x')]],
  ['E_SPECIAL_MODE', [{ ...f('x'), mode: '4755' }]],
];

test(`${CASES.length} path-rule cases through the CLI: exit 2, the rule's code in --json, the entry named, target untouched`, async () => {
  const root = tempDir('rules-');
  const m1 = await makeRelease(path.join(root, 'rel'), { app: 'acc', version: '1.0.0', tree: { 'a.txt': 'a' } });
  const target = path.join(root, 'inst', 'app');
  await apply(await loadManifestFile(m1, root), { target }, defaultContext({}));
  const before = snapshotTree(path.dirname(target));
  const bad: string[] = [];
  CASES.forEach(([code, files], i) => {
    const m = path.join(root, `m${i}.json`);
    fs.writeFileSync(m, JSON.stringify({ schemaVersion: 1, app: 'acc', version: '9.0.0', source: './files', files }));
    const r = runCli(['apply', m, '--target', target, '--json']);
    let out: { exitCode?: number; error?: { code?: string; message?: string } } = {};
    try {
      out = JSON.parse(r.stdout);
    } catch {
      bad.push(`case ${i} (${code}): stdout is not one JSON object: ${r.stdout}${r.stderr}`);
      return;
    }
    if (r.code !== 2) bad.push(`case ${i} (${code}): exit ${r.code}`);
    if (out.error?.code !== code) bad.push(`case ${i}: expected ${code}, got ${out.error?.code}: ${out.error?.message}`);
    if (!/files\[\d+\]/.test(out.error?.message ?? '')) bad.push(`case ${i} (${code}): the message does not name the entry: ${out.error?.message}`);
  });
  assert.equal(bad, [], bad.join('\n'));
  assert.equal(snapshotTree(path.dirname(target)), before, 'target, journal and everything beside it untouched');
});

test.run();
