import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { apply, planApply, recover } from '@codemate-txn/engine';
import { Journal } from '@codemate-txn/journal';
import { tempDir, makeTree, inodeOf, readTree, cleanupTemps } from '@codemate-txn/testkit';
import { makeReleases, ctxWith, snap, snapNoVersion, siblings, USER_FILES, TREE_V1 } from './helpers.js';

test.after(cleanupTemps);

test('fresh install into a missing target: exact tree, version file, journal done, no debris', async () => {
  const root = tempDir();
  const r = await makeReleases(root);
  const target = path.join(root, 'inst', 'app');
  const res = await apply(r.l1, { target }, ctxWith());
  assert.is(res.kind, 'install');
  assert.equal(snapNoVersion(target), snap(path.join(root, 'rel-1', 'files')));
  assert.is(fs.readFileSync(path.join(target, '.codemate-version'), 'utf8'), '1.0.0\n');
  assert.is((fs.statSync(target).mode & 0o7777), 0o755);
  assert.equal(siblings(target), ['app', 'app.journal.db', 'app.journal.db.lock', 'app.journal.db.lock.holder']);
  assert.is(fs.statSync(path.join(root, 'inst', 'app.journal.db')).mode & 0o777, 0o600);
  const j = Journal.open(path.join(root, 'inst', 'app.journal.db'), { readonly: true });
  const t = j.getTxn(res.txnId!)!;
  assert.is(t.state, 'done');
  assert.is(t.kind, 'install');
  // preserved config/user_settings.json is installed but is the user's: not in the installed set
  const paths = j.installedFiles().map((f) => f.path);
  assert.not.ok(paths.includes('config/user_settings.json'));
  assert.ok(paths.includes('lib/current'));
  j.close();
});

test('fresh install into an existing dir holding user data: placed file by file, user data untouched', async () => {
  const root = tempDir();
  const r = await makeReleases(root);
  const target = path.join(root, 'inst', 'app');
  makeTree(target, { 'user_data/db.sqlite': 'precious', 'index.js': 'unmanaged old file' });
  const ino = inodeOf(path.join(target, 'user_data/db.sqlite'));
  const res = await apply(r.l1, { target }, ctxWith());
  assert.is(res.kind, 'install');
  assert.is(res.counts.replaced, 1, 'the unmanaged index.js collides and is backed up, then replaced');
  const files = readTree(target);
  assert.is(files['user_data/db.sqlite'], 'precious');
  assert.is(inodeOf(path.join(target, 'user_data/db.sqlite')), ino);
  assert.is(files['index.js'], 'module.exports = 1\n');
  assert.equal(snapNoVersion(target).filter((l) => !l.includes('user_data')), snap(path.join(root, 'rel-1', 'files')));
  // The unmanaged file that was in the way is someone's work: its backup is kept and named.
  assert.equal(siblings(target), ['app', 'app.journal.db', 'app.journal.db.lock', 'app.journal.db.lock.holder', 'backup_staging']);
  assert.is(fs.readFileSync(path.join(root, 'inst', 'backup_staging', 'app', 'backup_staging_initial', 'original', 'index.js'), 'utf8'), 'unmanaged old file');
  assert.match(res.warnings.join('\n'), /1 file\(s\) the engine did not install were in the way and were replaced; they are kept in .*backup_staging_initial\/original: index\.js/);
});

test('a file kept once with --preserve stays the user\'s in later updates without the flag', async () => {
  const root = tempDir();
  const v1 = { 'a.txt': 'a1', 'conf/settings.json': 'tmpl 1' };
  const r = await makeReleases(root, v1, { 'a.txt': 'a2', 'conf/settings.json': 'tmpl 2' });
  const r3 = await makeReleases(path.join(root, 'v3'), v1, { 'a.txt': 'a3', 'conf/settings.json': 'tmpl 3' });
  const target = path.join(root, 'inst', 'app');
  await apply(r.l1, { target }, ctxWith());
  fs.writeFileSync(path.join(target, 'conf/settings.json'), 'MINE');
  await apply(r.l2, { target, preserve: ['conf/settings.json'] }, ctxWith());
  assert.is(fs.readFileSync(path.join(target, 'conf/settings.json'), 'utf8'), 'MINE');
  const res = await apply({ ...r3.l2, manifest: { ...r3.l2.manifest, version: '3.0.0' } }, { target }, ctxWith());
  assert.is(res.counts.preserved, 1);
  assert.is(fs.readFileSync(path.join(target, 'conf/settings.json'), 'utf8'), 'MINE');
  assert.is(fs.readFileSync(path.join(target, 'a.txt'), 'utf8'), 'a3');
});

test('update: replace, add, remove, mode change, symlink retarget, empty dirs; user files untouched', async () => {
  const root = tempDir();
  const r = await makeReleases(root);
  const target = path.join(root, 'inst', 'app');
  await apply(r.l1, { target }, ctxWith());
  makeTree(target, USER_FILES);
  fs.writeFileSync(path.join(target, 'config/user_settings.json'), '{"theme":"dark"}');
  const res = await apply(r.l2, { target }, ctxWith());
  assert.is(res.kind, 'update');
  assert.is(res.fromVersion, '1.0.0');
  const userPaths = (l: string) => /user_data|logs|\.env\.local|private\.secret|config\/user_settings/.test(l);
  const expected = snap(path.join(root, 'rel-2', 'files')).filter((l) => !userPaths(l));
  assert.equal(snapNoVersion(target).filter((l) => !userPaths(l)), expected);
  const files = readTree(target);
  for (const [p, c] of Object.entries(USER_FILES)) assert.is(files[p], c, p);
  assert.is(files['config/user_settings.json'], '{"theme":"dark"}', 'preserved file shipped by the release is not overwritten');
  assert.is(fs.readlinkSync(path.join(target, 'lib/current')), 'v2');
  assert.is(fs.statSync(path.join(target, 'bin/helper')).mode & 0o777, 0o755);
  assert.not.ok(fs.existsSync(path.join(target, 'old')), 'a directory emptied by the update is removed');
  assert.ok(fs.statSync(path.join(target, 'empty-dir')).isDirectory());
  assert.is(fs.readFileSync(path.join(target, '.codemate-version'), 'utf8'), '2.0.0\n');
  assert.equal(res.counts, { installed: 4, replaced: 5, removed: 2, unchanged: 3, preserved: 1, chmod: 1 });
  assert.equal(siblings(target), ['app', 'app.journal.db', 'app.journal.db.lock', 'app.journal.db.lock.holder']);
});

test('unchanged files are not touched: same inode and mtime after an update', async () => {
  const root = tempDir();
  const r = await makeReleases(root);
  const target = path.join(root, 'inst', 'app');
  await apply(r.l1, { target }, ctxWith());
  const p = path.join(target, 'src/a.js');
  const before = fs.statSync(p);
  await apply(r.l2, { target }, ctxWith());
  const after = fs.statSync(p);
  assert.is(after.ino, before.ino);
  assert.is(after.mtimeMs, before.mtimeMs);
  assert.is(inodeOf(path.join(target, 'lib/v1/x.js')), inodeOf(path.join(target, 'lib/v1/x.js')));
});

test('installed_files.version is the version of the txn that last wrote the file', async () => {
  const root = tempDir();
  const r = await makeReleases(root);
  const target = path.join(root, 'inst', 'app');
  await apply(r.l1, { target }, ctxWith());
  await apply(r.l2, { target }, ctxWith());
  const j = Journal.open(path.join(root, 'inst', 'app.journal.db'), { readonly: true });
  const v = Object.fromEntries(j.installedFiles().map((f) => [f.path, f.version]));
  j.close();
  assert.is(v['src/a.js'], '1.0.0');
  assert.is(v['src/b.js'], '2.0.0');
  assert.is(v['bin/helper'], '2.0.0', 'a chmod writes the file too');
  assert.is(v['src/gone.js'], undefined);
});

test('same version is a no-op (no transaction); --repair re-applies drifted files only', async () => {
  const root = tempDir();
  const r = await makeReleases(root);
  const target = path.join(root, 'inst', 'app');
  await apply(r.l1, { target }, ctxWith());
  const again = await apply(r.l1, { target }, ctxWith());
  assert.is(again.kind, 'noop');
  assert.is(again.txnId, null);
  fs.writeFileSync(path.join(target, 'src/a.js'), 'tampered');
  fs.chmodSync(path.join(target, 'bin/tool'), 0o600);
  const ino = inodeOf(path.join(target, 'index.js'));
  const rep = await apply(r.l1, { target, repair: true }, ctxWith());
  assert.is(rep.kind, 'repair');
  assert.is(rep.counts.replaced, 1);
  assert.is(rep.counts.chmod, 1);
  assert.is(fs.readFileSync(path.join(target, 'src/a.js'), 'utf8'), 'a1\n');
  assert.is(fs.statSync(path.join(target, 'bin/tool')).mode & 0o777, 0o755);
  assert.is(inodeOf(path.join(target, 'index.js')), ino);
  const clean = await apply(r.l1, { target, repair: true }, ctxWith());
  assert.is(clean.kind, 'noop');
});

test('downgrade refused with E_VERSION_DOWNGRADE (nothing touched) unless allowed', async () => {
  const root = tempDir();
  const r = await makeReleases(root);
  const target = path.join(root, 'inst', 'app');
  await apply(r.l2, { target }, ctxWith());
  const s0 = snap(target);
  try {
    await apply(r.l1, { target }, ctxWith());
    assert.unreachable('should refuse');
  } catch (e: unknown) {
    assert.is((e as { code: string }).code, 'E_VERSION_DOWNGRADE');
    assert.is((e as { exitCode: number }).exitCode, 2);
  }
  assert.equal(snap(target), s0);
  const res = await apply(r.l1, { target, allowDowngrade: true }, ctxWith());
  assert.is(res.kind, 'downgrade');
  // preserved paths (config/user_settings.json, the cache/ dir) are the user's once installed
  const mine = (l: string) => / (config\/user_settings\.json|cache)( |$)/.test(l);
  assert.equal(snapNoVersion(target).filter((l) => !mine(l)), snap(path.join(root, 'rel-1', 'files')).filter((l) => !mine(l)));
  assert.is(fs.readFileSync(path.join(target, 'config/user_settings.json'), 'utf8'), '{"theme":"default2"}\n');
});

test('--keep-backup keeps the replaced and removed files under backup_staging/<name>/backup_staging_<from>/original', async () => {
  const root = tempDir();
  const r = await makeReleases(root);
  const target = path.join(root, 'inst', 'app');
  await apply(r.l1, { target }, ctxWith());
  const res = await apply(r.l2, { target, keepBackup: true }, ctxWith());
  const orig = path.join(root, 'inst', 'backup_staging', 'app', 'backup_staging_1.0.0', 'original');
  assert.is(res.backupDir, path.dirname(orig));
  const b = readTree(orig);
  assert.is(b['src/b.js'], 'b1\n');
  assert.is(b['src/gone.js'], 'gone in 2\n');
  assert.is(b['old/only/deep.txt'], 'whole dir goes away\n');
  assert.is(b['.codemate-version'], '1.0.0\n');
  assert.is(fs.statSync(orig).mode & 0o777, 0o700);
  // a second kept backup of the same version gets a unique suffix
  await apply(r.l1, { target, allowDowngrade: true }, ctxWith());
  await apply(r.l2, { target, keepBackup: true }, ctxWith());
  assert.ok(fs.existsSync(path.join(root, 'inst', 'backup_staging', 'app', 'backup_staging_1.0.0.1', 'original', 'src', 'b.js')));
});

test('dry run prints the plan and writes nothing, not even the journal', async () => {
  const root = tempDir();
  const r = await makeReleases(root);
  const target = path.join(root, 'inst', 'app');
  const fresh = await planApply(r.l1, { target }, ctxWith());
  assert.is(fresh.kind, 'install');
  assert.is(fresh.counts.installed, Object.keys(TREE_V1).length);
  assert.equal(fs.readdirSync(root).sort(), ['rel-1', 'rel-2'], 'no journal, no staging, no target');
  await apply(r.l1, { target }, ctxWith());
  const before = snap(root);
  const d = await planApply(r.l2, { target }, ctxWith());
  assert.is(d.kind, 'update');
  assert.ok(d.paths.delete.includes('src/gone.js'));
  assert.ok(d.paths.replace.includes('src/b.js'));
  assert.ok(d.paths.install.includes('src/new/c.js'));
  assert.ok(d.paths.chmod.includes('bin/helper'));
  assert.ok(d.paths.preserved.includes('config/user_settings.json'));
  assert.equal(snap(root), before);
});

test('app mismatch refused with exit 2', async () => {
  const root = tempDir();
  const r = await makeReleases(root);
  const other = await makeReleases(path.join(root, 'o'), TREE_V1, TREE_V1, 'other');
  const target = path.join(root, 'inst', 'app');
  await apply(r.l1, { target }, ctxWith());
  try {
    await apply(other.l2, { target }, ctxWith());
    assert.unreachable();
  } catch (e: unknown) {
    assert.is((e as { code: string }).code, 'E_APP_MISMATCH');
  }
});

test('recover releases the lock: an apply in the same process right after it proceeds (regression)', async () => {
  const root = tempDir();
  const r = await makeReleases(root);
  const target = path.join(root, 'inst', 'app');
  await recover({ target }, ctxWith());
  const res = await apply(r.l1, { target }, ctxWith());
  assert.is(res.kind, 'install');
  await recover({ target }, ctxWith());
  assert.is((await apply(r.l2, { target }, ctxWith())).kind, 'update');
});

test('a preserved path the release wants as another kind is refused clearly, never destroyed', async () => {
  const root = tempDir();
  const r = await makeReleases(root);
  const target = path.join(root, 'inst', 'app');
  await apply(r.l1, { target }, ctxWith());
  // The user made "logs" a file; v3 ships logs/ as a directory with a file in it.
  fs.writeFileSync(path.join(target, 'logs'), 'my log file');
  const r3 = await makeReleases(path.join(root, 'v3'), TREE_V1, { ...TREE_V1, 'logs/readme.txt': 'x' });
  const before = snap(target);
  try {
    await apply(r3.l2, { target }, ctxWith());
    assert.unreachable();
  } catch (e: unknown) {
    assert.is((e as { code: string }).code, 'E_PATH_CONFLICT');
    assert.match((e as Error).message, /"logs" to be a directory, found a file/);
  }
  assert.equal(snap(target), before);
  assert.is(fs.readFileSync(path.join(target, 'logs'), 'utf8'), 'my log file');
});

test('a target whose parent is a file gets a clear error naming it (exit 2)', async () => {
  const root = tempDir();
  const r = await makeReleases(root);
  fs.writeFileSync(path.join(root, 'afile'), 'x');
  try {
    await apply(r.l1, { target: path.join(root, 'afile', 'app') }, ctxWith());
    assert.unreachable();
  } catch (e: unknown) {
    assert.is((e as { code: string }).code, 'E_TARGET_INVALID');
    assert.is((e as { exitCode: number }).exitCode, 2);
    assert.match((e as Error).message, /afile/);
  }
  assert.is(fs.readFileSync(path.join(root, 'afile'), 'utf8'), 'x');
});

test('fresh install of a nested dir entry whose parent is implicit stages the parent first (fuzz seed 20261203, case 135)', async () => {
  const root = tempDir();
  const r = await makeReleases(root, { 'logs/b': { dir: true }, 'x.txt': 'x' }, { 'x.txt': 'y' });
  const target = path.join(root, 'inst', 'app');
  await apply(r.l1, { target }, ctxWith());
  assert.ok(fs.statSync(path.join(target, 'logs', 'b')).isDirectory());
});

test('stat cache: an update does not rehash files unchanged since the last commit, and does rehash a file whose stat changed', async () => {
  const root = tempDir();
  const r = await makeReleases(root);
  const target = path.join(root, 'inst', 'app');
  await apply(r.l1, { target }, ctxWith());
  // Same size, mtime put back: only ctime and the bytes tell. It must be rehashed and replaced.
  const p = path.join(target, 'src/a.js');
  const st = fs.statSync(p);
  fs.writeFileSync(p, 'zz\n');
  fs.utimesSync(p, st.atime, st.mtime);
  const res = await apply(r.l2, { target }, ctxWith());
  assert.ok(res.hashed.fromStatCache >= 5, `from cache: ${res.hashed.fromStatCache}`);
  assert.is(res.hashed.hashed, 1, 'only the file whose stat changed was hashed');
  assert.is(fs.readFileSync(p, 'utf8'), 'a1\n', 'the tampered file was detected and replaced');
});

test('case-only rename between versions (Readme.md → README.md) ends with exactly the new name', async () => {
  const root = tempDir();
  const r = await makeReleases(root, { 'Readme.md': 'old readme\n', 'a.txt': 'a' }, { 'README.md': 'new readme\n', 'a.txt': 'a' });
  const target = path.join(root, 'inst', 'app');
  await apply(r.l1, { target }, ctxWith());
  await apply(r.l2, { target }, ctxWith());
  assert.equal(fs.readdirSync(target).sort(), ['.codemate-version', 'README.md', 'a.txt']);
  assert.is(fs.readFileSync(path.join(target, 'README.md'), 'utf8'), 'new readme\n');
});

test('large files (streamed copy, over the small-file limit) install byte for byte', async () => {
  const root = tempDir();
  const big = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
  const r = await makeReleases(root, { 'big.bin': big, 'a.txt': 'a' }, { 'big.bin': Buffer.concat([big, Buffer.from('x')]), 'a.txt': 'a' });
  const target = path.join(root, 'inst', 'app');
  await apply(r.l1, { target }, ctxWith());
  assert.ok(fs.readFileSync(path.join(target, 'big.bin')).equals(big));
  await apply(r.l2, { target }, ctxWith());
  assert.is(fs.statSync(path.join(target, 'big.bin')).size, big.length + 1);
});

test('a target that is a file or a symlink is refused (exit 2) naming it, and no journal or lock is created beside it', async () => {
  const root = tempDir();
  const r = await makeReleases(root);
  const dir = path.join(root, 'inst');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'file'), 'x');
  fs.symlinkSync(root, path.join(dir, 'link'));
  for (const name of ['file', 'link']) {
    try {
      await apply(r.l1, { target: path.join(dir, name) }, ctxWith());
      assert.unreachable();
    } catch (e: unknown) {
      assert.is((e as { code: string }).code, 'E_TARGET_INVALID');
      assert.match((e as Error).message, path.join(dir, name));
    }
  }
  assert.equal(fs.readdirSync(dir).sort(), ['file', 'link']);
});

test.run();
