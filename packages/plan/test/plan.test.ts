/**
 * computePlan is pure: these tests hand it the disk state a scan would report, including what a
 * case-insensitive disk reports (one inode under two spellings). This machine's kernel cannot
 * mount one natively (no ext4 casefold); packages/engine/test/case-insensitive.test.ts runs the
 * same cases end to end on a FUSE mount (testkit's casefold-fs.py) where FUSE is available.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { computePlan, type TargetScan, type Preserver } from '@codemate-txn/plan';
import type { DiskState, InstalledFile, Manifest, ManifestEntry } from '@codemate-txn/core';

const nothingPreserved: Preserver = { isPreserved: () => false };
const H = (c: string) => c.repeat(64).slice(0, 64);

function file(path: string, c: string, size = 1): ManifestEntry {
  return { type: 'file', path, size, sha256: H(c), mode: 0o644 };
}

function manifest(files: ManifestEntry[], version = '2.0.0'): Manifest {
  return { schemaVersion: 1, app: 'p', version, source: './files', files, preserve: [] };
}

function installedRow(path: string, c: string): InstalledFile {
  return { path, type: 'file', sha256: H(c), size: 1, mode: 0o644, linkTarget: null, version: '1.0.0' };
}

function scanOf(states: Record<string, DiskState>, children: Record<string, string[]> = {}): TargetScan {
  return { root: { type: 'dir', mode: 0o755 }, states: new Map(Object.entries(states)), children: new Map(Object.entries(children)) };
}

const f = (ino: number, c: string): DiskState => ({ type: 'file', size: 1, mode: 0o644, ino, mtimeMs: 1, ctimeMs: 1, sha256: H(c) });

test('case-only rename on a case-sensitive disk: the old name removed, the new one installed', () => {
  const plan = computePlan({
    manifest: manifest([file('README.md', 'b')]),
    installedVersion: '1.0.0',
    installed: [installedRow('Readme.md', 'a')],
    scan: scanOf({ 'Readme.md': f(10, 'a'), 'README.md': { type: 'absent' } }),
    preserve: nothingPreserved,
    kind: 'update',
  });
  assert.equal(plan.backups.map((b) => [b.path, b.reason]), [['Readme.md', 'remove']]);
  assert.equal(plan.places, ['README.md']);
  assert.is(plan.counts.removed, 1);
  assert.is(plan.counts.installed, 1);
});

test('case-only rename on a case-insensitive disk (one inode, two spellings): backed up once as replaced, never removed separately', () => {
  const plan = computePlan({
    manifest: manifest([file('README.md', 'b')]),
    installedVersion: '1.0.0',
    installed: [installedRow('Readme.md', 'a')],
    scan: scanOf({ 'Readme.md': f(10, 'a'), 'README.md': f(10, 'a') }),
    preserve: nothingPreserved,
    kind: 'update',
  });
  assert.equal(plan.backups.map((b) => [b.path, b.reason]), [['Readme.md', 'replace']], 'the on-disk spelling is what moves (and comes back on undo)');
  assert.equal(plan.places, ['README.md']);
  assert.equal(plan.removed, []);
  assert.is(plan.counts.replaced, 1);
  assert.is(plan.counts.removed, 0);
});

test('case-only rename with the same bytes on a case-insensitive disk is staged and placed, never "unchanged" (it would be deleted with the old spelling)', () => {
  const plan = computePlan({
    manifest: manifest([file('License.txt', 'a')]),
    installedVersion: '1.0.0',
    installed: [installedRow('LICENSE.txt', 'a')],
    scan: scanOf({ 'LICENSE.txt': f(10, 'a'), 'License.txt': f(10, 'a') }),
    preserve: nothingPreserved,
    kind: 'update',
  });
  assert.equal(plan.backups.map((b) => [b.path, b.reason]), [['LICENSE.txt', 'replace']]);
  assert.equal(plan.stage.map((e) => e.path), ['License.txt']);
  assert.equal(plan.places, ['License.txt']);
  assert.equal(plan.removed, []);
  assert.equal(plan.entries.map((e) => [e.path, e.action]), [['License.txt', 'replace']]);
});

test('two different files whose names differ only by case on a case-sensitive disk are not aliases', () => {
  const plan = computePlan({
    manifest: manifest([file('README.md', 'b')]),
    installedVersion: '1.0.0',
    installed: [installedRow('Readme.md', 'a')],
    scan: scanOf({ 'Readme.md': f(10, 'a'), 'README.md': f(11, 'c') }),
    preserve: nothingPreserved,
    kind: 'update',
  });
  assert.equal(plan.backups.map((b) => [b.path, b.reason]).sort(), [['README.md', 'collision'], ['Readme.md', 'remove']]);
});

test('a directory left empty by the update moves to the backup whole, its files with it', () => {
  const plan = computePlan({
    manifest: manifest([file('keep.txt', 'k')]),
    installedVersion: '1.0.0',
    installed: [installedRow('keep.txt', 'k'), installedRow('old/a.txt', 'a'), installedRow('old/b.txt', 'b')],
    scan: scanOf({ 'keep.txt': f(1, 'k'), old: { type: 'dir', mode: 0o755 }, 'old/a.txt': f(2, 'a'), 'old/b.txt': f(3, 'b') }, { old: ['a.txt', 'b.txt'] }),
    preserve: nothingPreserved,
    kind: 'update',
  });
  assert.equal(plan.backups.map((b) => [b.path, b.reason]), [['old', 'empty-dir']]);
  assert.is(plan.counts.removed, 2);
  assert.is(plan.counts.unchanged, 1);
});

test('a directory that still holds a user file stays; only the engine\'s file goes', () => {
  const plan = computePlan({
    manifest: manifest([file('keep.txt', 'k')]),
    installedVersion: '1.0.0',
    installed: [installedRow('keep.txt', 'k'), installedRow('old/a.txt', 'a')],
    scan: scanOf({ 'keep.txt': f(1, 'k'), old: { type: 'dir', mode: 0o755 }, 'old/a.txt': f(2, 'a'), 'old/mine.txt': f(3, 'm') }, { old: ['a.txt', 'mine.txt'] }),
    preserve: nothingPreserved,
    kind: 'update',
  });
  assert.equal(plan.backups.map((b) => b.path), ['old/a.txt']);
});

test.run();
