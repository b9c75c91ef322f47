/**
 * Symlinks the engine did not place (DESIGN §4, §9): a user's symlinked directory inside the target
 * is never written through nor replaced by a real directory (E_SYMLINK_PARENT, exit 1, target
 * untouched); a symlink sitting at a manifest path is replaced as a link, never followed. Every
 * test snapshots the directory outside the target that the link points to, before and after.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { apply, defaultContext } from '@codemate-txn/engine';
import { loadManifestFile } from '@codemate-txn/manifest';
import { TxnError, type LoadedManifest, type Manifest } from '@codemate-txn/core';
import { TxnFs } from '@codemate-txn/fsops';
import { Journal } from '@codemate-txn/journal';
import { tempDir, makeTree, makeRelease, readTree, cleanupTemps, type TreeSpec } from '@codemate-txn/testkit';
import { ctxWith, makeReleases, snap, snapNoVersion, siblings } from './helpers.js';

test.after(cleanupTemps);

interface World {
  root: string;
  target: string;
  /** A directory outside the target, with files the engine must never touch. */
  outside: string;
  l1: LoadedManifest;
  l2: LoadedManifest;
}

async function world(v1: TreeSpec, v2: TreeSpec, edit1?: (m: Manifest) => void): Promise<World> {
  const root = tempDir();
  const m1 = await makeRelease(path.join(root, 'rel-1'), { app: 's', version: '1.0.0', tree: v1, ...(edit1 ? { edit: edit1 } : {}) });
  const m2 = await makeRelease(path.join(root, 'rel-2'), { app: 's', version: '2.0.0', tree: v2 });
  const outside = makeTree(path.join(root, 'outside'), {
    'secret.txt': { content: 'outside secret\n', mode: 0o600 },
    'data/a.txt': 'outside a\n',
    'data/x.txt': 'outside x\n',
  });
  return { root, target: path.join(root, 'inst', 'app'), outside, l1: await loadManifestFile(m1, root), l2: await loadManifestFile(m2, root) };
}

/** Outside tree with inodes, so "untouched" also means "not replaced by a copy". */
function outsideState(dir: string): string[] {
  return snap(dir).map((l) => `${l} ino=${fs.lstatSync(path.join(dir, l.split(' ')[2]!)).ino}`);
}

async function expectRefused(w: World, l: LoadedManifest): Promise<TxnError> {
  let err: unknown;
  try {
    await apply(l, { target: w.target }, ctxWith());
  } catch (e: unknown) {
    err = e;
  }
  if (err === undefined) assert.unreachable('expected the apply to be refused');
  assert.instance(err, TxnError);
  return err as TxnError;
}

function installedVersion(w: World): string | undefined {
  const j = Journal.open(path.join(path.dirname(w.target), 'app.journal.db'), { readonly: true });
  try {
    return j.installedVersion()?.version;
  } finally {
    j.close();
  }
}

const BASE: TreeSpec = { 'index.js': 'i1\n', 'lib/a.js': 'a1\n' };

// --- a user's symlinked directory where the manifest has files below it -------------------

test('fresh install into a dir holding a symlinked subdirectory the manifest writes below → E_SYMLINK_PARENT, nothing written', async () => {
  const w = await world(BASE, BASE);
  const l = await loadManifestFile(
    await makeRelease(path.join(w.root, 'rel-d'), { app: 's', version: '1.0.0', tree: { ...BASE, 'data/a.txt': 'release a\n', 'data/new.txt': 'release new\n' } }),
    w.root,
  );
  makeTree(w.target, { 'user.txt': 'mine\n' });
  fs.symlinkSync(path.join(w.outside, 'data'), path.join(w.target, 'data'));
  const out0 = outsideState(w.outside);
  const t0 = snap(w.target);
  const e = await expectRefused(w, l);
  assert.is(e.code, 'E_SYMLINK_PARENT');
  assert.is(e.exitCode, 1);
  assert.match(e.message, /data/);
  assert.equal(outsideState(w.outside), out0, 'nothing written through the link');
  assert.equal(snap(w.target), t0, 'target untouched; the link is still a link');
  assert.not.ok(siblings(w.target).some((n) => n.includes('staging')), 'no staging or backup left');
});

test('update adding files below a user\'s symlinked directory → E_SYMLINK_PARENT, target and outside untouched', async () => {
  const w = await world(BASE, { ...BASE, 'index.js': 'i2\n', 'data/a.txt': 'release a\n' });
  await apply(w.l1, { target: w.target }, ctxWith());
  fs.symlinkSync(path.join(w.outside, 'data'), path.join(w.target, 'data'));
  const out0 = outsideState(w.outside);
  const t0 = snap(w.target);
  const e = await expectRefused(w, w.l2);
  assert.is(e.code, 'E_SYMLINK_PARENT');
  assert.is(e.exitCode, 1);
  assert.equal(outsideState(w.outside), out0);
  assert.equal(snap(w.target), t0);
  assert.is(installedVersion(w), '1.0.0');
});

test('update replacing files in an installed directory the user swapped for a symlink → E_SYMLINK_PARENT', async () => {
  const w = await world({ ...BASE, 'data/a.txt': 'a1\n', 'data/x.txt': 'x1\n' }, { ...BASE, 'data/a.txt': 'a2\n', 'data/x.txt': 'x1\n' });
  await apply(w.l1, { target: w.target }, ctxWith());
  fs.rmSync(path.join(w.target, 'data'), { recursive: true });
  fs.symlinkSync(path.join(w.outside, 'data'), path.join(w.target, 'data'));
  const out0 = outsideState(w.outside);
  const t0 = snap(w.target);
  const e = await expectRefused(w, w.l2);
  assert.is(e.code, 'E_SYMLINK_PARENT');
  assert.equal(outsideState(w.outside), out0);
  assert.equal(snap(w.target), t0);
});

test('a symlinked parent that was an explicit "dir" entry of the old version is still the user\'s: refused, not replaced by a real dir', async () => {
  // v1 lists data as a dir entry; v2 only implies it (as the parent of data/a.txt).
  const w = await world(
    { ...BASE, 'data/a.txt': 'a1\n' },
    { ...BASE, 'data/a.txt': 'a2\n' },
    (m) => { m.files.unshift({ type: 'dir', path: 'data', mode: 0o755 }); },
  );
  await apply(w.l1, { target: w.target }, ctxWith());
  fs.rmSync(path.join(w.target, 'data'), { recursive: true });
  fs.symlinkSync(path.join(w.outside, 'data'), path.join(w.target, 'data'));
  const out0 = outsideState(w.outside);
  const t0 = snap(w.target);
  let err: unknown;
  try {
    await apply(w.l2, { target: w.target }, ctxWith());
  } catch (e: unknown) {
    err = e;
  }
  assert.equal(outsideState(w.outside), out0, 'nothing written through the link');
  assert.ok(fs.lstatSync(path.join(w.target, 'data')).isSymbolicLink(), 'the user\'s symlinked directory is not replaced by a real one');
  assert.equal(snap(w.target), t0);
  assert.instance(err, TxnError);
  assert.is((err as TxnError).code, 'E_SYMLINK_PARENT');
});

test('an update that only removes files below a user\'s symlinked directory deletes nothing through it and keeps the link', async () => {
  const w = await world({ ...BASE, 'data/a.txt': 'outside a\n', 'data/x.txt': 'outside x\n' }, { ...BASE, 'index.js': 'i2\n' });
  await apply(w.l1, { target: w.target }, ctxWith());
  fs.rmSync(path.join(w.target, 'data'), { recursive: true });
  fs.symlinkSync(path.join(w.outside, 'data'), path.join(w.target, 'data'));
  const out0 = outsideState(w.outside);
  await apply(w.l2, { target: w.target }, ctxWith());
  assert.equal(outsideState(w.outside), out0, 'outside/data/a.txt and x.txt (same bytes as the old release) not deleted through the link');
  assert.is(fs.readlinkSync(path.join(w.target, 'data')), path.join(w.outside, 'data'), 'the user\'s link stays');
  assert.is(readTree(w.target)['index.js'], 'i2\n');
});

test('a directory swapped for a symlink after planning is caught at the moment of use (lstat every parent)', async () => {
  const w = await world({ ...BASE, 'data/a.txt': 'a1\n' }, { ...BASE, 'data/a.txt': 'a2\n' });
  await apply(w.l1, { target: w.target }, ctxWith());
  const out0 = outsideState(w.outside);
  // Swap target/data for a link to the outside dir right after staging starts (after the plan).
  class SwapAfterPlan extends TxnFs {
    private swapped = false;
    override mkdir(p: string, mode: number): void {
      super.mkdir(p, mode);
      if (!this.swapped && p.endsWith('app.staging')) {
        this.swapped = true;
        fs.rmSync(path.join(w.target, 'data'), { recursive: true });
        fs.symlinkSync(path.join(w.outside, 'data'), path.join(w.target, 'data'));
      }
    }
  }
  let err: unknown;
  try {
    await apply(w.l2, { target: w.target }, { ...defaultContext({}), fs: new SwapAfterPlan() });
  } catch (e: unknown) {
    err = e;
  }
  assert.instance(err, TxnError);
  assert.is((err as TxnError).code, 'E_SYMLINK_PARENT');
  assert.is((err as TxnError).exitCode, 1);
  assert.equal(outsideState(w.outside), out0, 'nothing moved or written through the swapped-in link');
  assert.is(fs.readFileSync(path.join(w.target, 'index.js'), 'utf8'), 'i1\n', 'rolled back');
});

// --- a symlink at a manifest file's path, pointing outside the target ---------------------

test('update: an installed file the user replaced by a symlink to an outside file is replaced as a link', async () => {
  const w = await world({ ...BASE, 'conf/app.ini': 'ini1\n' }, { ...BASE, 'conf/app.ini': 'ini2\n' });
  await apply(w.l1, { target: w.target }, ctxWith());
  fs.rmSync(path.join(w.target, 'conf/app.ini'));
  fs.symlinkSync(path.join(w.outside, 'secret.txt'), path.join(w.target, 'conf/app.ini'));
  const out0 = outsideState(w.outside);
  await apply(w.l2, { target: w.target }, ctxWith());
  assert.equal(outsideState(w.outside), out0, 'the outside file: same bytes, mode and inode');
  const st = fs.lstatSync(path.join(w.target, 'conf/app.ini'));
  assert.ok(st.isFile(), 'a regular file now, not a link');
  assert.is(fs.readFileSync(path.join(w.target, 'conf/app.ini'), 'utf8'), 'ini2\n');
  assert.is(st.mode & 0o777, 0o644);
  assert.equal(siblings(w.target), ['app', 'app.journal.db', 'app.journal.db.lock', 'app.journal.db.lock.holder']);
});

test('update: the same, when the release did not change the file (a link is never "unchanged")', async () => {
  const w = await world({ ...BASE, 'conf/app.ini': 'outside secret\n' }, { ...BASE, 'index.js': 'i2\n', 'conf/app.ini': 'outside secret\n' });
  await apply(w.l1, { target: w.target }, ctxWith());
  fs.rmSync(path.join(w.target, 'conf/app.ini'));
  // same bytes as the release's file, but reached through a link
  fs.symlinkSync(path.join(w.outside, 'secret.txt'), path.join(w.target, 'conf/app.ini'));
  const out0 = outsideState(w.outside);
  await apply(w.l2, { target: w.target }, ctxWith());
  assert.equal(outsideState(w.outside), out0);
  assert.ok(fs.lstatSync(path.join(w.target, 'conf/app.ini')).isFile());
  assert.is(fs.statSync(path.join(w.target, 'conf/app.ini')).mode & 0o777, 0o644, 'the release mode, not the outside file\'s 0600');
});

test('fresh install into a dir where a file path is a symlink to an outside file or directory: replaced as links', async () => {
  const w = await world(BASE, BASE);
  makeTree(w.target, { 'user.txt': 'mine\n' });
  fs.mkdirSync(path.join(w.target, 'lib'));
  fs.symlinkSync(path.join(w.outside, 'secret.txt'), path.join(w.target, 'index.js'));
  fs.symlinkSync(path.join(w.outside, 'data'), path.join(w.target, 'lib/a.js'));
  const out0 = outsideState(w.outside);
  const res = await apply(w.l1, { target: w.target }, ctxWith());
  assert.is(res.counts.replaced, 2);
  assert.equal(outsideState(w.outside), out0);
  assert.equal(snapNoVersion(w.target).filter((l) => !l.includes(' user.txt')), snap(path.join(w.root, 'rel-1', 'files')));
  assert.is(readTree(w.target)['user.txt'], 'mine\n');
});

test('update removing a file the user replaced by a symlink to outside: nothing is deleted through the link', async () => {
  const w = await world({ ...BASE, 'old.txt': 'old\n', 'old-dir.txt': 'old\n' }, { ...BASE, 'index.js': 'i2\n' });
  await apply(w.l1, { target: w.target }, ctxWith());
  fs.rmSync(path.join(w.target, 'old.txt'));
  fs.rmSync(path.join(w.target, 'old-dir.txt'));
  fs.symlinkSync(path.join(w.outside, 'secret.txt'), path.join(w.target, 'old.txt'));
  fs.symlinkSync(path.join(w.outside, 'data'), path.join(w.target, 'old-dir.txt'));
  const out0 = outsideState(w.outside);
  await apply(w.l2, { target: w.target }, ctxWith());
  assert.equal(outsideState(w.outside), out0, 'backup and cleanup moved and removed links, never what they point to');
  assert.equal(siblings(w.target), ['app', 'app.journal.db', 'app.journal.db.lock', 'app.journal.db.lock.holder']);
});

test('a preserved directory the user made a symlink does not block updates: files below it are skipped, nothing written through it', async () => {
  const root = tempDir();
  const r = await makeReleases(root, { 'a.txt': 'a1' }, { 'a.txt': 'a2', 'logs/.keep': '' });
  const target = path.join(root, 'inst', 'app');
  await apply(r.l1, { target }, ctxWith());
  const elsewhere = path.join(root, 'elsewhere');
  makeTree(elsewhere, { 'app.log': 'mine' });
  fs.symlinkSync(elsewhere, path.join(target, 'logs'));
  const res = await apply(r.l2, { target }, ctxWith());
  assert.is(res.counts.preserved, 1);
  assert.is(fs.readFileSync(path.join(target, 'a.txt'), 'utf8'), 'a2');
  assert.is(fs.readlinkSync(path.join(target, 'logs')), elsewhere);
  assert.equal(fs.readdirSync(elsewhere), ['app.log']);
});

test.run();
