import { execFileSync, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { inodeOf } from '../src/inode-of.js';
import { makeTree } from '../src/make-tree.js';
import { readTree } from '../src/read-tree.js';
import { snapshotTree } from '../src/snapshot-tree.js';
import { tempDir, cleanupTemps } from '../src/temp-dir.js';

test.after(cleanupTemps);

const sha = (s: string | Buffer): string => crypto.createHash('sha256').update(s).digest('hex');

function sample(root: string): string {
  return makeTree(root, {
    'README.md': 'hello',
    'bin/run': { content: '#!/bin/sh\n', mode: 0o755 },
    'lib/v1/x.js': 'x',
    'lib/current': { symlink: 'v1' },
    'cache': { dir: true },
    'private': { dir: true, mode: 0o700 },
    'assets/résumé.txt': 'r',
    'assets/zeta.txt': 'z',
  });
}

test('lists files, symlinks and dirs (empty ones too) with modes, sorted', () => {
  const root = sample(tempDir());
  assert.equal(snapshotTree(root), [
    `d 700 private`,
    `d 755 assets`,
    `d 755 bin`,
    `d 755 cache`,
    `d 755 lib`,
    `d 755 lib/v1`,
    `f 644 README.md ${sha('hello')}`,
    `f 644 assets/résumé.txt ${sha('r')}`,
    `f 644 assets/zeta.txt ${sha('z')}`,
    `f 644 lib/v1/x.js ${sha('x')}`,
    `f 755 bin/run ${sha('#!/bin/sh\n')}`,
    `l - lib/current v1`,
  ]);
});

test('sorts bytewise (LC_ALL=C), so non-ASCII names sort after ASCII', () => {
  const root = makeTree(tempDir(), { 'é': '1', 'z': '2', 'Z': '3', 'a b': '4' });
  assert.equal(snapshotTree(root).map((l) => l.split(' ')[2]), ['Z', 'a', 'z', 'é']);
});

test('a symlink to a directory is listed, not followed', () => {
  const root = makeTree(tempDir(), { 'real/f': 'f', 'alias': { symlink: 'real' }, 'out': { symlink: '/etc' } });
  const lines = snapshotTree(root);
  assert.ok(lines.includes('l - alias real'));
  assert.ok(lines.includes('l - out /etc'));
  assert.not.ok(lines.some((l) => l.includes('alias/')));
});

test('sees content and mode changes, not mtime changes', () => {
  const root = sample(tempDir());
  const before = snapshotTree(root);
  fs.utimesSync(path.join(root, 'README.md'), new Date('1985-10-26T08:15:00Z'), new Date('1985-10-26T08:15:00Z'));
  assert.equal(snapshotTree(root), before);
  fs.chmodSync(path.join(root, 'README.md'), 0o600);
  assert.ok(snapshotTree(root).includes(`f 600 README.md ${sha('hello')}`));
  fs.writeFileSync(path.join(root, 'lib/v1/x.js'), 'y');
  assert.ok(snapshotTree(root).includes(`f 644 lib/v1/x.js ${sha('y')}`));
});

test('exclude leaves paths out and prunes excluded directories', () => {
  const root = sample(tempDir());
  makeTree(root, { '.codemate-version': '1.0.0\n', 'user_data/notes.txt': 'mine' });
  const lines = snapshotTree(root, { exclude: (rel) => rel === '.codemate-version' || rel === 'user_data' || rel.startsWith('lib/') });
  assert.equal(lines, snapshotTree(sample(tempDir())).filter((l) => !l.includes(' lib/')));
});

test('an empty or missing-content tree gives an empty listing', () => {
  assert.equal(snapshotTree(tempDir()), []);
});

test('matches the acceptance snap (GNU find + sha256sum) line for line', () => {
  const probe = spawnSync('find', ['--version'], { encoding: 'utf8' });
  if (probe.status !== 0 || !/GNU/.test(probe.stdout) || spawnSync('sha256sum', ['--version']).status !== 0) {
    console.log('  (skipped: needs GNU find and sha256sum)');
    return;
  }
  const root = sample(tempDir());
  makeTree(root, { 'docs/getting started.md': 'g', 'bin/tool': { content: 't', mode: 0o750 } });
  const script = `cd "$1" && find . -mindepth 1 \\( -type f -printf 'f %m %P ' -exec sh -c 'sha256sum < "$1" | cut -c1-64' _ {} \\; \\) -o \\( -type l -printf 'l - %P %l\\n' \\) -o \\( -type d -printf 'd %m %P\\n' \\) | LC_ALL=C sort`;
  const out = execFileSync('bash', ['-c', script, '_', root], { encoding: 'utf8' });
  assert.equal(snapshotTree(root), out.split('\n').filter((l) => l !== ''));
});

test('readTree returns file contents only', () => {
  const root = sample(tempDir());
  assert.equal(readTree(root), {
    'README.md': 'hello',
    'assets/résumé.txt': 'r',
    'assets/zeta.txt': 'z',
    'bin/run': '#!/bin/sh\n',
    'lib/v1/x.js': 'x',
  });
  assert.equal(Object.keys(readTree(root, { exclude: (rel) => rel === 'lib' })).sort(), ['README.md', 'assets/résumé.txt', 'assets/zeta.txt', 'bin/run']);
});

test('inodeOf is stable for an untouched file and changes when a file is replaced by rename', () => {
  const root = makeTree(tempDir(), { 'a': 'a', 'b.new': 'b', 'link': { symlink: 'missing' } });
  const a = inodeOf(path.join(root, 'a'));
  assert.is(inodeOf(path.join(root, 'a')), a);
  const bNew = inodeOf(path.join(root, 'b.new'));
  fs.renameSync(path.join(root, 'b.new'), path.join(root, 'a'));
  assert.is(inodeOf(path.join(root, 'a')), bNew);
  assert.is.not(inodeOf(path.join(root, 'a')), a);
  assert.type(inodeOf(path.join(root, 'link')), 'number');
});

test.run();
