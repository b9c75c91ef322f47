/**
 * Preserve patterns end to end (DESIGN §4): a preserved user file is never backed up, overwritten
 * or deleted by an update, not even when the release ships a file at its path or drops the
 * directory it sits in. One test per default pattern, then the manifest's and the caller's own
 * patterns, install-if-absent, and `dir/**` with dotfiles.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { apply } from '@codemate-txn/engine';
import { Journal } from '@codemate-txn/journal';
import { DEFAULT_PRESERVE, loadManifestFile } from '@codemate-txn/manifest';
import { tempDir, makeTree, makeRelease, readTree, cleanupTemps, type TreeSpec } from '@codemate-txn/testkit';
import { ctxWith, snap, snapNoVersion } from './helpers.js';

test.after(cleanupTemps);

/** The directory v1 ships and v2 drops; nested user files sit in it. */
const DROPPED = 'plugins/old';

const BASE_V1: TreeSpec = {
  'index.js': 'v1\n',
  'lib/a.js': 'a1\n',
  'plugins/keep.js': 'k1\n',
  [`${DROPPED}/index.js`]: 'old plugin\n',
  [`${DROPPED}/lib/util.js`]: 'old util\n',
};

const BASE_V2: TreeSpec = {
  'index.js': 'v2\n',
  'lib/a.js': 'a1\n',
  'lib/b.js': 'b2\n',
  'plugins/keep.js': 'k2\n',
};

interface Fixture {
  /** User files (mode 0600, own bytes) the pattern must preserve. */
  files: string[];
  /** User-made directories (mode 0700) the pattern must preserve. */
  dirs: string[];
  /** The top-level user path the v2 release also ships. */
  shipped: string;
}

/**
 * Concrete paths for a pattern: '*' becomes 'mine'. A trailing-slash pattern names a directory
 * (a file in it, and one deeper); a pattern with an inner slash is anchored, so top level only;
 * anything else matches a basename at any depth, so it is also placed inside the dropped directory.
 */
function fixtureFor(pattern: string): Fixture {
  const dirPattern = pattern.endsWith('/');
  const name = pattern.replace(/\/+$/, '').replace(/\*/g, 'mine');
  const anchored = name.includes('/');
  if (dirPattern) {
    const files = [`${name}/mine.txt`, `${name}/deeper/more.txt`, ...(anchored ? [] : [`${DROPPED}/${name}/mine.txt`])];
    const dirs = [name, `${name}/deeper`, ...(anchored ? [] : [`${DROPPED}/${name}`])];
    return { files, dirs, shipped: `${name}/mine.txt` };
  }
  return { files: anchored ? [name] : [name, `${DROPPED}/${name}`], dirs: [], shipped: name };
}

const pathOf = (line: string): string => line.split(' ')[2]!;
const ancestors = (rel: string): string[] => rel.split('/').slice(0, -1).map((_, i, a) => a.slice(0, i + 1).join('/'));

/** Snapshot lines of the user's own paths: their files and the directories they made. */
function userLines(target: string, fx: Fixture): string[] {
  const mine = new Set([...fx.files, ...fx.dirs]);
  return snap(target).filter((l) => mine.has(pathOf(l)));
}

function inodes(target: string, files: string[]): number[] {
  return files.map((f) => fs.lstatSync(path.join(target, f)).ino);
}

interface Scenario {
  root: string;
  target: string;
  before: string[];
  ino: number[];
}

/** Install v1, add the user's files, update to v2 (which ships `fx.shipped` and drops DROPPED). */
async function runScenario(fx: Fixture): Promise<Scenario> {
  const root = tempDir();
  const m1 = await makeRelease(path.join(root, 'rel-1'), { app: 'p', version: '1.0.0', tree: BASE_V1 });
  const tree2: TreeSpec = { ...BASE_V2, [fx.shipped]: 'shipped by the release\n' };
  const m2 = await makeRelease(path.join(root, 'rel-2'), { app: 'p', version: '2.0.0', tree: tree2 });
  const target = path.join(root, 'inst', 'app');
  await apply(await loadManifestFile(m1, root), { target }, ctxWith());

  const user: TreeSpec = {};
  for (const d of fx.dirs) user[d] = { dir: true, mode: 0o700 };
  for (const f of fx.files) user[f] = { content: `user bytes of ${f}\n`, mode: 0o600 };
  makeTree(target, user);
  const before = userLines(target, fx);
  const ino = inodes(target, fx.files);
  assert.is(before.length, fx.files.length + fx.dirs.length);

  const res = await apply(await loadManifestFile(m2, root), { target }, ctxWith());
  assert.is(res.kind, 'update');
  return { root, target, before, ino };
}

/** User files' bytes, mode and inode unchanged; every other path exactly v2's. */
function assertPreserved(fx: Fixture, s: Scenario): void {
  const { root, target } = s;
  assert.equal(userLines(target, fx), s.before, 'user files: same bytes and mode; user dirs: same mode');
  assert.equal(inodes(target, fx.files), s.ino, 'user files: same inode (never moved or rewritten)');
  for (const f of fx.files) assert.is(fs.readFileSync(path.join(target, f), 'utf8'), `user bytes of ${f}\n`, f);

  // Everything else is exactly v2: the user's paths (and the directories holding them) aside.
  const skip = new Set([...fx.files, ...fx.dirs, ...fx.files.flatMap(ancestors)]);
  const keep = (l: string) => !skip.has(pathOf(l));
  assert.equal(snapNoVersion(target).filter(keep), snap(path.join(root, 'rel-2', 'files')).filter(keep));
  assert.not.ok(fs.existsSync(path.join(target, DROPPED, 'index.js')), 'the dropped directory lost its managed files');
  assert.not.ok(fs.existsSync(path.join(target, DROPPED, 'lib')), 'the dropped directory lost its managed subdirectory');
}

for (const pattern of DEFAULT_PRESERVE) {
  const fx = fixtureFor(pattern);
  const where = fx.files.some((f) => f.startsWith(`${DROPPED}/`)) ? 'kept at top level and nested' : 'kept at top level (anchored)';
  test(`preserve default pattern "${pattern}": ${where}`, async () => {
    assertPreserved(fx, await runScenario(fx));
  });
}

test('control for the loop above: a user file no pattern matches is backed up and replaced by the shipped one', async () => {
  const fx = fixtureFor('notes.txt');
  const s = await runScenario(fx);
  assert.is(fs.readFileSync(path.join(s.target, 'notes.txt'), 'utf8'), 'shipped by the release\n');
  // unmanaged, so still left alone where the release ships nothing
  assert.is(fs.readFileSync(path.join(s.target, DROPPED, 'notes.txt'), 'utf8'), `user bytes of ${DROPPED}/notes.txt\n`);
});

// --- the manifest's and the caller's own patterns --------------------------------------------

/** A scenario where preserve decides three things: a collision, a removal, and a dropped dir. */
async function customScenario(how: 'manifest' | 'opts' | 'none'): Promise<{ target: string; files: Record<string, string>; installed: string[] }> {
  const patterns = ['my_custom_data/', '*.sqlite'];
  const root = tempDir();
  const v1: TreeSpec = { ...BASE_V1, 'my_custom_data/seed.txt': 'seed shipped by v1\n' };
  const v2: TreeSpec = { ...BASE_V2, 'app.sqlite': 'empty db shipped by v2\n' };
  const m1 = await makeRelease(path.join(root, 'rel-1'), { app: 'p', version: '1.0.0', tree: v1 });
  const m2 = await makeRelease(path.join(root, 'rel-2'), { app: 'p', version: '2.0.0', tree: v2, ...(how === 'manifest' ? { preserve: patterns } : {}) });
  const target = path.join(root, 'inst', 'app');
  await apply(await loadManifestFile(m1, root), { target }, ctxWith());
  makeTree(target, {
    'my_custom_data/mine.txt': 'mine\n',
    'app.sqlite': 'my database\n',
    'app.sqlite-wal': 'my wal\n',
    [`${DROPPED}/cache.sqlite`]: 'plugin db\n',
  });
  await apply(await loadManifestFile(m2, root), { target, ...(how === 'opts' ? { preserve: patterns } : {}) }, ctxWith());
  const j = Journal.open(path.join(root, 'inst', 'app.journal.db'), { readonly: true });
  const installed = j.installedFiles().map((f) => f.path);
  j.close();
  return { target, files: readTree(target), installed };
}

test('manifest "preserve" patterns and opts.preserve patterns work the same way (and do work)', async () => {
  const viaManifest = await customScenario('manifest');
  const viaOpts = await customScenario('opts');
  const without = await customScenario('none');
  for (const r of [viaManifest, viaOpts]) {
    assert.is(r.files['my_custom_data/seed.txt'], 'seed shipped by v1\n', 'a file v1 installed, now matching a pattern, is not removed');
    assert.is(r.files['my_custom_data/mine.txt'], 'mine\n');
    assert.is(r.files['app.sqlite'], 'my database\n', 'the shipped file does not replace the preserved one');
    assert.is(r.files['app.sqlite-wal'], 'my wal\n');
    assert.is(r.files[`${DROPPED}/cache.sqlite`], 'plugin db\n');
    assert.not.ok(r.installed.includes('app.sqlite'), 'a preserved path is not in installed_files');
    assert.not.ok(r.installed.includes('my_custom_data/seed.txt'));
  }
  assert.equal(snap(viaManifest.target), snap(viaOpts.target), 'same tree either way');
  assert.equal(viaManifest.installed, viaOpts.installed, 'same installed set either way');
  // The control: without the patterns the release wins where it may.
  assert.is(without.files['my_custom_data/seed.txt'], undefined, 'removed with v1');
  assert.is(without.files['app.sqlite'], 'empty db shipped by v2\n');
  assert.is(without.files['my_custom_data/mine.txt'], 'mine\n', 'unmanaged files are left alone regardless');
});

test('a preserved file the release ships is installed when absent, and then is not in installed_files', async () => {
  const root = tempDir();
  const v1: TreeSpec = { ...BASE_V1, 'config/user_settings.json': '{"v":1}\n', '.env': 'A=1\n' };
  const v2: TreeSpec = { ...BASE_V2, 'config/user_settings.json': '{"v":2}\n', '.env': 'A=2\n' };
  const m1 = await makeRelease(path.join(root, 'rel-1'), { app: 'p', version: '1.0.0', tree: v1 });
  const m2 = await makeRelease(path.join(root, 'rel-2'), { app: 'p', version: '2.0.0', tree: v2 });
  const target = path.join(root, 'inst', 'app');
  const journal = path.join(root, 'inst', 'app.journal.db');
  const installedPaths = (): string[] => {
    const j = Journal.open(journal, { readonly: true });
    try {
      return j.installedFiles().map((f) => f.path);
    } finally {
      j.close();
    }
  };

  const r1 = await apply(await loadManifestFile(m1, root), { target }, ctxWith());
  assert.is(r1.counts.installed, Object.keys(v1).length, 'preserved-but-absent files count as installed');
  assert.is(fs.readFileSync(path.join(target, 'config/user_settings.json'), 'utf8'), '{"v":1}\n');
  assert.is(fs.readFileSync(path.join(target, '.env'), 'utf8'), 'A=1\n');
  assert.is(fs.statSync(path.join(target, '.env')).mode & 0o777, 0o644, 'installed with the manifest mode');
  assert.not.ok(installedPaths().includes('config/user_settings.json'));
  assert.not.ok(installedPaths().includes('.env'));
  assert.ok(installedPaths().includes('index.js'));

  // The user edits one and deletes the other: v2 leaves the edit and restores the missing one.
  fs.writeFileSync(path.join(target, 'config/user_settings.json'), '{"mine":true}');
  fs.rmSync(path.join(target, '.env'));
  const r2 = await apply(await loadManifestFile(m2, root), { target }, ctxWith());
  assert.is(r2.counts.preserved, 1);
  assert.is(fs.readFileSync(path.join(target, 'config/user_settings.json'), 'utf8'), '{"mine":true}');
  assert.is(fs.readFileSync(path.join(target, '.env'), 'utf8'), 'A=2\n', 'absent, so installed from v2');
  assert.not.ok(installedPaths().includes('config/user_settings.json'));
  assert.not.ok(installedPaths().includes('.env'));
});

test('"dir/**" preserves dotfiles and dot-directories inside dir', async () => {
  const root = tempDir();
  const v1: TreeSpec = { ...BASE_V1, 'data/.seed': 'seed\n', 'data/readme.txt': 'r\n' };
  const v2: TreeSpec = { ...BASE_V2, 'data/readme.txt': 'r\n', 'data/.hidden': 'shipped\n' };
  const m1 = await makeRelease(path.join(root, 'rel-1'), { app: 'p', version: '1.0.0', tree: v1 });
  const m2 = await makeRelease(path.join(root, 'rel-2'), { app: 'p', version: '2.0.0', tree: v2 });
  const target = path.join(root, 'inst', 'app');
  await apply(await loadManifestFile(m1, root), { target }, ctxWith());
  const user: TreeSpec = {
    'data/.hidden': { content: 'my hidden\n', mode: 0o600 },
    'data/.cfg/settings': 'cfg\n',
    'data/sub/.dot': 'dot\n',
  };
  makeTree(target, user);
  const ino = fs.lstatSync(path.join(target, 'data/.hidden')).ino;
  await apply(await loadManifestFile(m2, root), { target, preserve: ['data/**'] }, ctxWith());
  const files = readTree(target);
  assert.is(files['data/.hidden'], 'my hidden\n', 'a shipped dotfile does not replace the preserved one');
  assert.is(fs.lstatSync(path.join(target, 'data/.hidden')).ino, ino);
  assert.is(fs.statSync(path.join(target, 'data/.hidden')).mode & 0o777, 0o600);
  assert.is(files['data/.cfg/settings'], 'cfg\n');
  assert.is(files['data/sub/.dot'], 'dot\n');
  assert.is(files['data/.seed'], 'seed\n', 'a dotfile v1 installed is not removed once preserved');
  assert.is(files['data/readme.txt'], 'r\n');
});

test('a preserved directory that is a symlink (logs -> elsewhere) is left alone by an update', async () => {
  const root = tempDir();
  const m1 = await makeRelease(path.join(root, 'rel-1'), { app: 'p', version: '1.0.0', tree: BASE_V1 });
  const m2 = await makeRelease(path.join(root, 'rel-2'), { app: 'p', version: '2.0.0', tree: BASE_V2 });
  const target = path.join(root, 'inst', 'app');
  await apply(await loadManifestFile(m1, root), { target }, ctxWith());
  const outside = makeTree(path.join(root, 'var-log'), { 'app.log': 'log\n' });
  fs.symlinkSync(outside, path.join(target, 'logs'));
  fs.symlinkSync(outside, path.join(target, DROPPED, 'logs'));
  const before = snap(outside);
  await apply(await loadManifestFile(m2, root), { target }, ctxWith());
  assert.is(fs.readlinkSync(path.join(target, 'logs')), outside);
  assert.is(fs.readlinkSync(path.join(target, DROPPED, 'logs')), outside, 'kept although its directory was dropped');
  assert.equal(snap(outside), before);
});

// Found by the fuzz test (seed 20261203): the plan judged preserve patterns by the release's type
// only, so a user's `logs -> /elsewhere` link (a trailing-slash pattern matches a link to a
// directory) was replaced when the release wanted a file or a link called logs. The fingerprint
// caught it and rolled back, but with E_PRESERVE_CHANGED instead of a clear refusal up front.

async function userLinkedLogs(releaseTree: TreeSpec): Promise<{ root: string; target: string; outside: string; manifest: string }> {
  const root = tempDir();
  const target = path.join(root, 'inst', 'app');
  const outside = makeTree(path.join(root, 'var-log'), { 'app.log': 'log\n' });
  makeTree(target, { logs: { symlink: outside } });
  const manifest = await makeRelease(path.join(root, 'rel'), { app: 'p', version: '1.0.0', tree: releaseTree });
  return { root, target, outside, manifest };
}

test('preserved symlink-to-dir replaced by a release file (fuzz case 370): E_PATH_CONFLICT before anything, the link kept', async () => {
  const w = await userLinkedLogs({ 'index.js': 'x\n', logs: 'a file called logs\n' });
  const before = snap(w.outside);
  try {
    await apply(await loadManifestFile(w.manifest, w.root), { target: w.target }, ctxWith());
    assert.unreachable('a preserved link must not be replaced');
  } catch (e: unknown) {
    assert.is((e as { code: string }).code, 'E_PATH_CONFLICT');
    assert.match((e as Error).message, /preserved symlink of yours/);
  }
  assert.is(fs.readlinkSync(path.join(w.target, 'logs')), w.outside);
  assert.equal(fs.readdirSync(w.target), ['logs'], 'nothing was installed');
  assert.equal(snap(w.outside), before);
});

test('preserved symlink-to-dir where the release ships a symlink (fuzz case 733): the user\'s link stays, apply succeeds', async () => {
  const w = await userLinkedLogs({ 'index.js': 'x\n', sub: { dir: true }, logs: { symlink: 'sub' } });
  const before = snap(w.outside);
  const res = await apply(await loadManifestFile(w.manifest, w.root), { target: w.target }, ctxWith());
  assert.is(res.counts.preserved, 1);
  assert.is(fs.readlinkSync(path.join(w.target, 'logs')), w.outside);
  assert.equal(snap(w.outside), before);
  const j = Journal.open(path.join(w.root, 'inst', 'app.journal.db'), { readonly: true });
  assert.not.ok(j.installedFiles().some((f) => f.path === 'logs'), 'the link is the user\'s, not in installed_files');
  j.close();
});

test('a release symlink to a directory that matches a trailing-slash pattern (fuzz case 736) installs without a false E_PRESERVE_CHANGED', async () => {
  const root = tempDir();
  const target = path.join(root, 'inst', 'app');
  const manifest = await makeRelease(path.join(root, 'rel'), { app: 'p', version: '1.0.0', tree: { 'sub/a/file.txt': 'f\n', 'sub/a/logs': { symlink: '.' } } });
  fs.mkdirSync(target, { recursive: true }); // per-file placement, not one rename of staging
  fs.writeFileSync(path.join(target, 'mine.txt'), 'mine\n');
  await apply(await loadManifestFile(manifest, root), { target }, ctxWith());
  assert.is(fs.readlinkSync(path.join(target, 'sub/a/logs')), '.');
  assert.is(fs.readFileSync(path.join(target, 'mine.txt'), 'utf8'), 'mine\n');
});

test.run();
