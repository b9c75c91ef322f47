/** The filesystem seam: never-replacing rename, bounded retry of transient errors, fault injection. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TxnFs, faultConfigFromEnv } from '@codemate-txn/fsops';

const dirs: string[] = [];
const tmp = (): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'fsops-'));
  dirs.push(d);
  return d;
};
test.after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

test('rename never replaces an existing destination (EEXIST), so no bug can clobber a file', () => {
  const d = tmp();
  fs.writeFileSync(path.join(d, 'a'), 'a');
  fs.writeFileSync(path.join(d, 'b'), 'b');
  const tfs = new TxnFs();
  assert.throws(() => tfs.rename(path.join(d, 'a'), path.join(d, 'b')), /EEXIST/);
  assert.is(fs.readFileSync(path.join(d, 'b'), 'utf8'), 'b');
});

test('rename retries a real EBUSY a bounded number of times with backoff, then fails', () => {
  const d = tmp();
  const mnt = path.join(d, 'mnt');
  fs.mkdirSync(mnt);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { stdio: 'pipe' });
  } catch {
    console.log('  skipped: needs root and mount (renaming a mount point is a real, lasting EBUSY)');
    return;
  }
  try {
    const tfs = new TxnFs();
    const t0 = Date.now();
    assert.throws(() => tfs.rename(mnt, path.join(d, 'moved')), /EBUSY/);
    assert.is(tfs.retries, 4, 'four retries');
    assert.ok(Date.now() - t0 >= 10 + 30 + 90 + 270, 'with backoff between them');
  } finally {
    execFileSync('umount', [mnt]);
  }
});

test('CODEMATE_TXN_FAIL_AT fails exactly the Nth mutation with that errno, every retry of it included', () => {
  const d = tmp();
  const tfs = new TxnFs(faultConfigFromEnv({ CODEMATE_TXN_FAIL_AT: '2:EBUSY' }));
  tfs.mkdir(path.join(d, 'one'), 0o755);
  assert.throws(() => tfs.mkdir(path.join(d, 'two'), 0o755), (e: NodeJS.ErrnoException) => e.code === 'EBUSY' && e.syscall === 'mkdir');
  assert.not.ok(fs.existsSync(path.join(d, 'two')), 'the failed mutation did nothing');
  tfs.mkdir(path.join(d, 'three'), 0o755);
  assert.ok(fs.existsSync(path.join(d, 'three')));
});

test('crash points are reported before and after each mutation, numbered', () => {
  const d = tmp();
  const out = path.join(d, 'points.txt');
  const tfs = new TxnFs({ crashpointsOut: out });
  tfs.mkdir(path.join(d, 'x'), 0o700);
  tfs.point('journal commit');
  const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
  assert.equal(lines, [`1\tbefore mkdir ${path.join(d, 'x')}`, `2\tafter mkdir ${path.join(d, 'x')}`, '3\tjournal commit']);
  assert.is(fs.statSync(path.join(d, 'x')).mode & 0o777, 0o700, 'exact mode, umask or not');
});

test('bad fault variables are refused with a clear message', () => {
  assert.throws(() => faultConfigFromEnv({ CODEMATE_TXN_CRASH_AT: 'soon' }), /positive integer/);
  assert.throws(() => faultConfigFromEnv({ CODEMATE_TXN_FAIL_AT: 'ENOSPC' }), /N:CODE/);
});

test('copyIn of a large file (copyFile, reflink where supported) gives exact bytes, the asked mode and the hash read back', async () => {
  const d = tmp();
  const big = Buffer.alloc(1024 * 1024 + 5);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
  fs.writeFileSync(path.join(d, 'src'), big, { mode: 0o600 });
  const res = await new TxnFs().copyIn(path.join(d, 'src'), path.join(d, 'dst'), { maxSize: big.length, mode: 0o751, sync: false });
  assert.ok(fs.readFileSync(path.join(d, 'dst')).equals(big));
  assert.is(fs.statSync(path.join(d, 'dst')).mode & 0o7777, 0o751);
  assert.equal(res, { size: big.length, sha256: createHash('sha256').update(big).digest('hex') });
  // Never over an existing file.
  let err: NodeJS.ErrnoException | undefined;
  await new TxnFs().copyIn(path.join(d, 'src'), path.join(d, 'dst'), { maxSize: big.length, mode: 0o644 }).catch((e: NodeJS.ErrnoException) => { err = e; });
  assert.is(err?.code, 'EEXIST');
});

test('copyIn of a large declared size from a source grown past it copies nothing and reports the size found', async () => {
  const d = tmp();
  fs.writeFileSync(path.join(d, 'src'), Buffer.alloc(2 * 1024 * 1024, 0x61));
  const res = await new TxnFs().copyIn(path.join(d, 'src'), path.join(d, 'dst'), { maxSize: 512 * 1024, mode: 0o644 });
  assert.is(res.size, 2 * 1024 * 1024);
  assert.is(res.sha256, '');
  assert.not.ok(fs.existsSync(path.join(d, 'dst')), 'nothing staged');
});

test('a large source readable only by others (mode 0004) stages as the manifest mode for a user who is not its owner (copyFile gave the copy 0004)', () => {
  if (process.getuid?.() !== 0 || spawnSync('setpriv', ['--version']).status !== 0) {
    console.log('  skipped: needs root and setpriv to run the copy as another user');
    return;
  }
  const d = tmp();
  fs.chmodSync(d, 0o777);
  const big = Buffer.alloc(300 * 1024, 0x5a);
  fs.writeFileSync(path.join(d, 'src'), big);
  fs.chmodSync(path.join(d, 'src'), 0o004);
  fs.mkdirSync(path.join(d, 'out'), { mode: 0o777 });
  fs.chmodSync(path.join(d, 'out'), 0o777);
  const script = `require(${JSON.stringify(require.resolve('@codemate-txn/fsops'))}).TxnFs.prototype.copyIn.call(new (require(${JSON.stringify(require.resolve('@codemate-txn/fsops'))}).TxnFs)(), process.argv[1], process.argv[2], { maxSize: ${big.length}, mode: 0o644, sync: false }).then((r) => console.log(JSON.stringify(r)), (e) => { console.error(e.message); process.exit(1); })`;
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script, path.join(d, 'src'), path.join(d, 'out', 'dst')], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout), { size: big.length, sha256: createHash('sha256').update(big).digest('hex') });
  assert.is(fs.statSync(path.join(d, 'out', 'dst')).mode & 0o7777, 0o644);
});

test('a failed large-file copy names the source path, not /proc/self/fd/N', async () => {
  const d = tmp();
  fs.writeFileSync(path.join(d, 'src'), Buffer.alloc(300 * 1024));
  let err: NodeJS.ErrnoException | undefined;
  await new TxnFs().copyIn(path.join(d, 'src'), path.join(d, 'missing-dir', 'dst'), { maxSize: 300 * 1024, mode: 0o644 }).catch((e: NodeJS.ErrnoException) => { err = e; });
  assert.is(err?.code, 'ENOENT');
  assert.ok(err!.message.includes(path.join(d, 'src')), err!.message);
  assert.not.ok(err!.message.includes('/proc/self/fd'), err!.message);
});

test.run();
