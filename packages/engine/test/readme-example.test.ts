/** The README's library example, extracted and run as written against a real release. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tempDir, cleanupTemps, readTree } from '@codemate-txn/testkit';
import { ERROR_CATALOGUE } from '@codemate-txn/core';
import { makeReleases } from './helpers.js';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

test.after(cleanupTemps);

test('the README library example runs as written: installs, then updates', async () => {
  const m = /### As a library[\s\S]*?```ts\n([\s\S]*?)```/.exec(README);
  assert.ok(m, 'the README has a ```ts example under "As a library"');
  // Inside the repo so '@codemate-txn/engine' resolves like it would for an application.
  const dir = fs.mkdtempSync(path.join(ROOT, '.tmp-example-'));
  try {
    const file = path.join(dir, 'example.ts');
    fs.writeFileSync(file, m[1]!);
    const root = tempDir('readme-');
    const r = await makeReleases(root);
    const target = path.join(root, 'inst', 'app');
    const tsx = path.join(ROOT, 'node_modules', '.bin', 'tsx');
    const out1 = execFileSync(tsx, [file, r.m1, target], { encoding: 'utf8' });
    assert.match(out1, /^install: \d+ new, 0 replaced, 0 removed/m);
    assert.match(out1, /now at 1\.0\.0 \(transaction 1\)/);
    const out2 = execFileSync(tsx, [file, r.m2, target], { encoding: 'utf8' });
    assert.match(out2, /^update: 4 new, 5 replaced, 2 removed/m);
    assert.match(out2, /now at 2\.0\.0 \(transaction 2\)/);
    assert.is(readTree(target)['index.js'], 'module.exports = 2\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('every error code of the catalogue is listed in the README with its exit code', () => {
  for (const [code, [exit]] of Object.entries(ERROR_CATALOGUE)) {
    assert.ok(README.includes(`| \`${code}\` | ${exit} |`), `README lists ${code} with exit ${exit}`);
  }
});

test.run();
