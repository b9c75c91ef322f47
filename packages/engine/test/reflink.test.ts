/**
 * Reflink copies (issue 7): on a filesystem that supports them, staging a release file from a local
 * source shares the source's blocks instead of writing them again, so a large release installs
 * in the time of a metadata update and takes no extra space. Run on a real XFS (reflink=1) in a
 * loop-mounted image file. Skipped, with the reason printed, where that cannot be mounted (needs
 * root, loop devices and xfsprogs; .ci/run installs xfsprogs).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cleanupTemps, makeRelease, tempDir } from '@codemate-txn/testkit';
import { apply, loadManifestFile } from '@codemate-txn/engine';

let mnt: string | undefined;
let unavailable = '';

test.before(() => {
  const dir = tempDir();
  const img = path.join(dir, 'xfs.img');
  try {
    fs.writeFileSync(img, '');
    fs.truncateSync(img, 400 * 1024 * 1024);
    execFileSync('mkfs.xfs', ['-q', '-m', 'reflink=1', img], { stdio: 'pipe' });
    fs.mkdirSync(path.join(dir, 'mnt'));
    execFileSync('mount', ['-o', 'loop', img, path.join(dir, 'mnt')], { stdio: 'pipe' });
    mnt = path.join(dir, 'mnt');
  } catch (e: unknown) {
    unavailable = (e as Error).message.split('\n')[0]!;
    fs.rmSync(img, { force: true });
  }
});
test.after(() => {
  if (mnt) execFileSync('umount', [mnt], { stdio: 'pipe' });
  cleanupTemps();
});

const usedBytes = (dir: string): number => {
  const s = fs.statfsSync(dir);
  return (s.blocks - s.bfree) * s.bsize;
};

test('a large release file is staged as a reflink of its source on XFS: same bytes, shared extents, no extra space', async () => {
  if (!mnt) {
    console.log(`  skipped (no reflink filesystem here: ${unavailable})`);
    return;
  }
  const big = Buffer.alloc(32 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i, i); // distinct blocks
  const m = await makeRelease(path.join(mnt, 'rel'), { app: 'big', version: '1.0.0', tree: { 'big.bin': big, 'small.txt': 'small\n' } });
  execFileSync('sync');
  const before = usedBytes(mnt);
  const target = path.join(mnt, 'inst', 'app');
  await apply(await loadManifestFile(m), { target });
  execFileSync('sync');
  const grew = usedBytes(mnt) - before;
  assert.ok(fs.readFileSync(path.join(target, 'big.bin')).equals(big), 'installed byte for byte');
  assert.ok(grew < 4 * 1024 * 1024, `the 32 MiB file took no new blocks (the filesystem grew by ${grew} bytes: journal and metadata)`);
  const frag = execFileSync('filefrag', ['-v', path.join(target, 'big.bin')], { encoding: 'utf8' });
  assert.match(frag, /shared/, 'its extents are shared with the source');
});

test.run();
