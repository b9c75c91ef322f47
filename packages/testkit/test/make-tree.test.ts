import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeTree } from '../src/make-tree.js';
import { tempDir, cleanupTemps } from '../src/temp-dir.js';

test.after(cleanupTemps);

const modeOf = (p: string): number => fs.lstatSync(p).mode & 0o7777;

test('files get 0o644 by default, whatever the umask', () => {
  const root = tempDir();
  const old = process.umask(0o077);
  try {
    makeTree(root, { 'a.txt': 'a', 'deep/er/b.txt': Buffer.from([0, 1, 2]) });
  } finally {
    process.umask(old);
  }
  assert.is(modeOf(path.join(root, 'a.txt')), 0o644);
  assert.is(modeOf(path.join(root, 'deep/er/b.txt')), 0o644);
  assert.equal(fs.readFileSync(path.join(root, 'deep/er/b.txt')), Buffer.from([0, 1, 2]));
});

test('explicit file modes are applied exactly', () => {
  const root = tempDir();
  makeTree(root, {
    'bin/run': { content: '#!/bin/sh\n', mode: 0o755 },
    'secret': { content: 's', mode: 0o600 },
    'ro': { content: Buffer.from('r'), mode: 0o400 },
  });
  assert.is(modeOf(path.join(root, 'bin/run')), 0o755);
  assert.is(modeOf(path.join(root, 'secret')), 0o600);
  assert.is(modeOf(path.join(root, 'ro')), 0o400);
  assert.is(fs.readFileSync(path.join(root, 'bin/run'), 'utf8'), '#!/bin/sh\n');
});

test('symlinks are made as given, dangling or not, never followed', () => {
  const root = tempDir();
  makeTree(root, {
    'lib/v1/x.js': 'x',
    'lib/current': { symlink: 'v1' },
    'dangling': { symlink: 'nowhere/at/all' },
  });
  assert.is(fs.readlinkSync(path.join(root, 'lib/current')), 'v1');
  assert.is(fs.readFileSync(path.join(root, 'lib/current/x.js'), 'utf8'), 'x');
  assert.ok(fs.lstatSync(path.join(root, 'dangling')).isSymbolicLink());
  assert.is(fs.readlinkSync(path.join(root, 'dangling')), 'nowhere/at/all');
});

test('dirs: empty ones are made, and a dir mode is applied after its children', () => {
  const root = tempDir();
  makeTree(root, {
    'cache': { dir: true },
    'private': { dir: true, mode: 0o700 },
    'locked': { dir: true, mode: 0o555 },
    'locked/inside.txt': 'still written',
  });
  assert.ok(fs.statSync(path.join(root, 'cache')).isDirectory());
  assert.equal(fs.readdirSync(path.join(root, 'cache')), []);
  assert.is(modeOf(path.join(root, 'private')), 0o700);
  assert.is(modeOf(path.join(root, 'locked')), 0o555);
  assert.is(fs.readFileSync(path.join(root, 'locked/inside.txt'), 'utf8'), 'still written');
});

test('non-ASCII and space names work', () => {
  const root = tempDir();
  makeTree(root, { 'assets/résumé.txt': 'r', 'docs/getting started.md': 'g' });
  assert.is(fs.readFileSync(path.join(root, 'assets', 'résumé.txt'), 'utf8'), 'r');
  assert.is(fs.readFileSync(path.join(root, 'docs', 'getting started.md'), 'utf8'), 'g');
});

test('a second makeTree overwrites files, modes and symlinks in place', () => {
  const root = tempDir();
  makeTree(root, { 'a': { content: 'one', mode: 0o600 }, 'link': { symlink: 'a' } });
  makeTree(root, { 'a': 'two', 'link': { symlink: 'b' } });
  assert.is(fs.readFileSync(path.join(root, 'a'), 'utf8'), 'two');
  assert.is(modeOf(path.join(root, 'a')), 0o644);
  assert.is(fs.readlinkSync(path.join(root, 'link')), 'b');
});

test('the root is created when missing and returned', () => {
  const root = path.join(tempDir(), 'not', 'yet');
  assert.is(makeTree(root, { 'f': 'x' }), root);
  assert.ok(fs.existsSync(path.join(root, 'f')));
});

test('paths escaping the root are refused', () => {
  const root = tempDir();
  for (const bad of ['../x', '/abs', 'a/../b', 'a//b', './a', '']) {
    assert.throws(() => makeTree(root, { [bad]: 'x' }), /makeTree: bad path/, bad);
  }
});

test.run();
