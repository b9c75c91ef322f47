// scripts/tree-listing.js and scripts/check-untouched.js (plain JS used by demo.sh and
// real-release.sh) must agree with snapshotTree, the listing the tests use.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeTree } from '../src/make-tree.js';
import { snapshotTree } from '../src/snapshot-tree.js';
import { tempDir, cleanupTemps } from '../src/temp-dir.js';

test.after(cleanupTemps);

const scripts = path.resolve(__dirname, '..', '..', '..', 'scripts');
const node = (script: string, args: string[]) =>
  spawnSync(process.execPath, [path.join(scripts, script), ...args], { encoding: 'utf8' });
const lines = (s: string) => s.split('\n').filter((l) => l !== '');

const tree = {
  'README.md': 'hello',
  'bin/run': { content: '#!/bin/sh\n', mode: 0o755 },
  'lib/v1/x.js': 'x',
  'lib/current': { symlink: 'v1' },
  'cache': { dir: true },
  'assets/résumé.txt': 'r',
  'docs/getting started.md': 'g',
  'user_data/notes.txt': 'mine',
  '.codemate-version': '1.0.0\n',
} as const;

test('tree-listing.js prints exactly snapshotTree', () => {
  const root = makeTree(tempDir(), tree);
  const r = node('tree-listing.js', [root]);
  assert.is(r.status, 0, r.stderr);
  assert.equal(lines(r.stdout), snapshotTree(root));
});

test('--exclude prunes paths, --only keeps paths, --no-dirs drops dirs', () => {
  const root = makeTree(tempDir(), tree);
  const ex = node('tree-listing.js', [root, '--exclude', '.codemate-version', '--exclude', 'user_data']);
  assert.equal(lines(ex.stdout), snapshotTree(root, { exclude: (p) => p === '.codemate-version' || p === 'user_data' }));
  const only = node('tree-listing.js', [root, '--only', 'user_data', '--only', 'lib/current']);
  assert.equal(lines(only.stdout), snapshotTree(root).filter((l) => /^. \S+ (user_data|user_data\/\S+|lib\/current)( |$)/.test(l)));
  assert.is(lines(only.stdout).length, 3);
  const nodirs = node('tree-listing.js', [root, '--no-dirs']);
  assert.equal(lines(nodirs.stdout), snapshotTree(root).filter((l) => !l.startsWith('d ')));
});

test('--inodes lists file inodes; bad usage exits 2', () => {
  const root = makeTree(tempDir(), { 'a': 'a', 'l': { symlink: 'a' } });
  assert.equal(lines(node('tree-listing.js', [root, '--inodes']).stdout), [`${fs.lstatSync(path.join(root, 'a')).ino} a`]);
  assert.is(node('tree-listing.js', [path.join(root, 'missing')]).status, 2);
  assert.is(node('tree-listing.js', [root, '--bogus']).status, 2);
});

test('check-untouched.js passes untouched files and names rewritten ones', () => {
  const work = tempDir();
  const a = makeTree(path.join(work, 'a'), { 'same': 's', 'also-same': 'x', 'changed': '1' });
  const b = makeTree(path.join(work, 'b'), { 'same': 's', 'also-same': 'x', 'changed': '2' });
  const t = makeTree(path.join(work, 't'), { 'same': 's', 'also-same': 'x', 'changed': '1' });
  const before = path.join(work, 'inodes');
  fs.writeFileSync(before, node('tree-listing.js', [t, '--inodes']).stdout);
  fs.writeFileSync(path.join(t, 'changed.new'), '2');
  fs.renameSync(path.join(t, 'changed.new'), path.join(t, 'changed'));
  const ok = node('check-untouched.js', [a, b, t, before]);
  assert.is(ok.status, 0, ok.stderr);
  assert.is(ok.stdout.trim(), '2');
  fs.writeFileSync(path.join(t, 'same.new'), 's');
  fs.renameSync(path.join(t, 'same.new'), path.join(t, 'same'));
  const bad = node('check-untouched.js', [a, b, t, before]);
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /1 of 2 files .* rewritten[\s\S]*same \(inode/);
});

test.run();
