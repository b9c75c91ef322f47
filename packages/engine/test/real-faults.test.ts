/**
 * Real faults, not injected ones: a small tmpfs really runs out of inodes or bytes mid-staging and
 * mid-apply, and a target that is a mount point (staging would be on another filesystem). Needs
 * root and mount; otherwise each test is skipped with the reason printed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { apply } from '@codemate-txn/engine';
import { tempDir, cleanupTemps, makeTree, runCli } from '@codemate-txn/testkit';
import { ctxWith, makeReleases, snap, TREE_V1, TREE_V2, USER_FILES } from './helpers.js';

const mounts: string[] = [];
test.after(() => {
  for (const m of mounts.reverse()) {
    try { execFileSync('umount', [m]); } catch { /* already gone */ }
  }
  cleanupTemps();
});

function mountTmpfs(dir: string, opts: string): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root';
  try {
    fs.mkdirSync(dir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', dir], { stdio: 'pipe' });
    mounts.push(dir);
    return undefined;
  } catch (e: unknown) {
    return `mount not permitted here (${(e as Error).message.split('\n')[0]})`;
  }
}

function remount(dir: string, opts: string): void {
  execFileSync('mount', ['-o', `remount,${opts}`, dir], { stdio: 'pipe' });
}

const usedInodes = (dir: string): number => {
  const s = fs.statfsSync(dir);
  return s.files - s.ffree;
};

test('disk really full (inodes) at every point of staging and applying: old with exit 1, or new', async () => {
  const root = tempDir('full-');
  const mnt = path.join(root, 'mnt');
  const why = mountTmpfs(mnt, 'size=16m,nr_inodes=4000');
  if (why) { console.log(`  skipped: ${why}`); return; }
  const r = await makeReleases(root);
  const target = path.join(mnt, 'inst', 'app');
  const journal = path.join(root, 'journal', 'app.journal.db'); // outside: the journal's own disk is not under test here
  fs.mkdirSync(path.dirname(journal));
  await apply(r.l1, { target, journal }, ctxWith());
  makeTree(target, USER_FILES);
  const tmpl = path.join(root, 'tmpl');
  fs.cpSync(path.join(mnt, 'inst'), tmpl, { recursive: true, verbatimSymlinks: true });
  fs.cpSync(journal, journal + '.tmpl');
  const oldSnap = snap(target);
  const restore = (): void => {
    remount(mnt, 'nr_inodes=4000');
    fs.rmSync(path.join(mnt, 'inst'), { recursive: true, force: true });
    fs.cpSync(tmpl, path.join(mnt, 'inst'), { recursive: true, verbatimSymlinks: true });
    fs.cpSync(journal + '.tmpl', journal);
  };
  let rolled = 0;
  let k = 0;
  const bad: string[] = [];
  for (k = 1; k < 200; k++) {
    restore();
    remount(mnt, `nr_inodes=${usedInodes(mnt) + k}`);
    try {
      await apply(r.l2, { target, journal }, ctxWith());
      break; // enough room: the update went through
    } catch (e: unknown) {
      const ex = e as { exitCode?: number; message?: string };
      if (ex.exitCode !== 1) bad.push(`k=${k}: exit ${ex.exitCode}: ${ex.message}`);
      if (JSON.stringify(snap(target)) !== JSON.stringify(oldSnap)) bad.push(`k=${k}: tree not old after a real ENOSPC`);
      if (!/ENOSPC/.test(ex.message ?? '')) bad.push(`k=${k}: expected ENOSPC, got ${ex.message}`);
      const left = fs.readdirSync(path.join(mnt, 'inst')).filter((n) => n !== 'app');
      if (left.length) bad.push(`k=${k}: leftovers ${left.join(', ')}`);
      rolled++;
    }
  }
  remount(mnt, 'nr_inodes=4000');
  console.log(`  real ENOSPC: ${rolled}/${rolled} disk-full points rolled back; the update fits with ${k} free inodes`);
  assert.equal(bad, [], bad.join('\n'));
  assert.ok(rolled >= 5, 'disk-full hit staging and applying');
  const newFiles = snap(path.join(root, 'rel-2', 'files'));
  assert.ok(newFiles.length > 0);
  assert.is(fs.readFileSync(path.join(target, '.codemate-version'), 'utf8'), '2.0.0\n');
});

test('free-space preflight: a release that cannot fit is refused before staging, naming needed vs available', async () => {
  const root = tempDir('fullb-');
  const mnt = path.join(root, 'mnt');
  const why = mountTmpfs(mnt, 'size=1m');
  if (why) { console.log(`  skipped: ${why}`); return; }
  const big = { ...TREE_V2, 'assets/big.bin': Buffer.alloc(2 * 1024 * 1024, 7) };
  const r = await makeReleases(root, TREE_V1, big);
  const target = path.join(mnt, 'app');
  const journal = path.join(root, 'app.journal.db');
  await apply(r.l1, { target, journal }, ctxWith());
  const before = snap(target);
  try {
    await apply(r.l2, { target, journal }, ctxWith());
    assert.unreachable('a 2 MiB file cannot fit in 1 MiB');
  } catch (e: unknown) {
    assert.is((e as { code: string }).code, 'E_NO_SPACE');
    assert.is((e as { exitCode: number }).exitCode, 1);
    assert.match((e as Error).message, /needed \d+ bytes .* available \d+/);
  }
  assert.equal(snap(target), before);
  assert.equal(fs.readdirSync(mnt), ['app'], 'no staging was created');
});

test('a read-only target parent gets a clear error (exit 2), nothing written', async () => {
  const root = tempDir('ro-');
  const mnt = path.join(root, 'mnt');
  const why = mountTmpfs(mnt, 'size=1m,ro');
  if (why) { console.log(`  skipped: ${why}`); return; }
  const r = await makeReleases(root);
  try {
    await apply(r.l1, { target: path.join(mnt, 'app') }, ctxWith());
    assert.unreachable();
  } catch (e: unknown) {
    assert.is((e as { code: string }).code, 'E_TARGET_INVALID');
    assert.match((e as Error).message, /expected a writable directory, found .*EROFS/);
  }
  assert.equal(fs.readdirSync(mnt), []);
});

test('a target that is a mount point is refused before anything changes (EXDEV would follow)', async () => {
  const root = tempDir('xdev-');
  const mnt = path.join(root, 'mnt');
  const why = mountTmpfs(mnt, 'size=4m');
  if (why) { console.log(`  skipped: ${why}`); return; }
  const r = await makeReleases(root);
  try {
    await apply(r.l1, { target: mnt }, ctxWith());
    assert.unreachable();
  } catch (e: unknown) {
    assert.is((e as { code: string }).code, 'E_TARGET_INVALID');
    assert.match((e as Error).message, /is a mount point/);
  }
  assert.equal(fs.readdirSync(mnt), []);
  assert.not.ok(fs.existsSync(path.join(root, 'mnt.staging')));
  assert.not.ok(fs.existsSync(path.join(root, 'mnt.journal.db')), 'refused before the journal is created');
});

test('audit commands read a journal on a read-only filesystem (status, log, verify exit 0)', async () => {
  const root = tempDir('roaudit-');
  const mnt = path.join(root, 'mnt');
  const why = mountTmpfs(mnt, 'size=4m');
  if (why) { console.log(`  skipped: ${why}`); return; }
  const r = await makeReleases(root);
  const target = path.join(mnt, 'app');
  await apply(r.l1, { target }, ctxWith());
  remount(mnt, 'ro');
  try {
    for (const args of [['status'], ['log'], ['verify'], ['show', '1'], ['verify', '--journal']]) {
      const res = runCli([...args, '--target', target]);
      assert.is(res.code, 0, `${args.join(' ')}: ${res.stderr}`);
    }
  } finally {
    remount(mnt, 'rw');
  }
});

test.run();
