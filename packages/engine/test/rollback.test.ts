/**
 * Rollback after an injected filesystem failure (DESIGN §5, §10): one injection per mutation of an
 * update that replaces, adds, removes, chmods, retargets a symlink and makes empty directories.
 * Before the commit point every failure must leave the target byte-identical (user files included)
 * with no staging or backup left beside it; after it, the update stands and the next run finishes
 * the cleanup. Plus: content that fails verification while staging.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { apply, recover, defaultContext } from '@codemate-txn/engine';
import { Journal, type TxnRecord } from '@codemate-txn/journal';
import { TxnError } from '@codemate-txn/core';
import { TxnFs, type CopyOptions, type WriteResult } from '@codemate-txn/fsops';
import { tempDir, makeTree, cleanupTemps } from '@codemate-txn/testkit';
import { makeReleases, ctxWith, snap, siblings, USER_FILES, type Releases } from './helpers.js';

test.after(cleanupTemps);

const CLEAN_SIBLINGS = ['app', 'app.journal.db', 'app.journal.db.lock', 'app.journal.db.lock.holder'];
const USER_SETTINGS = '{"theme":"dark"}';

/** Shared, read-only releases (every scenario gets its own target). */
let rel: Releases;
/** Mutations (crash-point lines "before …") of an uninterrupted update, before and after the commit point. */
let beforeCommit = 0;
let total = 0;
let labels: string[] = [];

/** Installs v1 into a fresh target and adds the user's files; returns the target. */
async function installedWithUserFiles(): Promise<string> {
  const target = path.join(tempDir(), 'app');
  await apply(rel.l1, { target }, ctxWith());
  makeTree(target, USER_FILES);
  fs.writeFileSync(path.join(target, 'config/user_settings.json'), USER_SETTINGS);
  return target;
}

/** Every regular file's and symlink's inode, so "restored" can't mean "rewritten with the same bytes". */
function inodes(root: string): Record<string, number> {
  const out: Record<string, number> = {};
  const visit = (abs: string, rel: string): void => {
    for (const name of fs.readdirSync(abs).sort()) {
      const a = path.join(abs, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = fs.lstatSync(a);
      if (st.isDirectory()) visit(a, r);
      else out[r] = st.ino;
    }
  };
  visit(root, '');
  return out;
}

function lastTxn(target: string): TxnRecord {
  const j = Journal.open(path.join(path.dirname(target), 'app.journal.db'), { readonly: true });
  try {
    return j.lastTxn()!;
  } finally {
    j.close();
  }
}

/**
 * Compares the target with the v2 release (user files and the version file aside, they are checked
 * on their own); returns a description of the difference, or undefined when they match.
 */
function differsFromV2(target: string): string | undefined {
  const user = (l: string) => /user_data|logs|\.env\.local|private\.secret|config\/user_settings/.test(l);
  const mine = snap(target).filter((l) => !l.includes(' .codemate-version') && !user(l));
  const want = snap(path.join(rel.root, 'rel-2', 'files')).filter((l) => !user(l));
  if (JSON.stringify(mine) === JSON.stringify(want)) return undefined;
  return `missing ${JSON.stringify(want.filter((l) => !mine.includes(l)))}, extra ${JSON.stringify(mine.filter((l) => !want.includes(l)))}`;
}

test.before(async () => {
  rel = await makeReleases(tempDir());
  const target = await installedWithUserFiles();
  const out = path.join(tempDir(), 'crashpoints.txt');
  const res = await apply(rel.l2, { target }, ctxWith({ crashpointsOut: out }));
  assert.is(res.kind, 'update');
  labels = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => l.slice(l.indexOf('\t') + 1));
  const commit = labels.indexOf('journal committed');
  assert.ok(commit > 0, `the crash points name the commit point: ${labels.join(' | ')}`);
  beforeCommit = labels.slice(0, commit).filter((l) => l.startsWith('before ')).length;
  total = labels.filter((l) => l.startsWith('before ')).length;
});

test('the uninterrupted update has mutations on both sides of the commit point', () => {
  // staging root + dirs + version + 7 changed entries; backups, mkdirs, places, chmod, version
  assert.ok(beforeCommit >= 20, `mutations before commit: ${beforeCommit}`);
  assert.ok(total > beforeCommit, `cleanup mutations after the commit point: ${total - beforeCommit}`);
  const kinds = new Set(labels.filter((l) => l.startsWith('before ')).map((l) => l.split(' ')[1]));
  for (const k of ['mkdir', 'write', 'symlink', 'rename', 'chmod', 'unlink', 'rmdir']) assert.ok(kinds.has(k), `the update exercises ${k}`);
});

/** A v1 installation with user files, and what it looked like before any failed update. */
interface Installed {
  target: string;
  before: string[];
  ino: Record<string, number>;
}

async function installed(): Promise<Installed> {
  const target = await installedWithUserFiles();
  return { target, before: snap(target), ino: inodes(target) };
}

/**
 * Runs the v2 update on `w` with mutation n failing with code; returns problems found (empty =
 * fine). The loops below reuse one installation for all their failures: each rollback must leave
 * it exactly as installed (same bytes, modes, inodes), fit for the next attempt.
 */
async function failBeforeCommit(w: Installed, n: number, code: string): Promise<string[]> {
  const problems: string[] = [];
  const { target, before, ino } = w;
  let thrown: unknown;
  try {
    await apply(rel.l2, { target }, ctxWith({ failAt: { n, code } }));
  } catch (e: unknown) {
    thrown = e;
  }
  const tag = `failAt ${n}:${code} (${labels.filter((l) => l.startsWith('before '))[n - 1]})`;
  if (!(thrown instanceof TxnError)) {
    problems.push(`${tag}: expected a TxnError, found ${thrown === undefined ? 'success' : String(thrown)}`);
  } else {
    if (thrown.exitCode !== 1) problems.push(`${tag}: expected exit code 1, found ${thrown.exitCode} (${thrown.code}: ${thrown.message})`);
    if (!thrown.message.includes(code)) problems.push(`${tag}: the message should name the injected ${code}, found "${thrown.message}"`);
  }
  const after = snap(target);
  if (JSON.stringify(after) !== JSON.stringify(before)) {
    const gone = before.filter((l) => !after.includes(l));
    const added = after.filter((l) => !before.includes(l));
    problems.push(`${tag}: target changed; missing ${JSON.stringify(gone)}, extra ${JSON.stringify(added)}`);
  } else {
    const now = inodes(target);
    const moved = Object.keys(ino).filter((p) => now[p] !== ino[p]);
    if (moved.length) problems.push(`${tag}: restored by copy, not by rename back (new inodes): ${moved.join(', ')}`);
  }
  const sib = siblings(target);
  if (JSON.stringify(sib) !== JSON.stringify(CLEAN_SIBLINGS)) problems.push(`${tag}: leftovers beside the target: ${sib.join(', ')}`);
  const t = lastTxn(target);
  if (t.state !== 'rolled_back') problems.push(`${tag}: journal state ${t.state}, expected rolled_back`);
  if (t.error === null) problems.push(`${tag}: journal error is null`);
  return problems;
}

test('ENOSPC at every mutation before the commit point: rolled back, target byte-identical, no leftovers', async () => {
  const w = await installed();
  const problems: string[] = [];
  for (let n = 1; n <= beforeCommit; n++) problems.push(...(await failBeforeCommit(w, n, 'ENOSPC')));
  assert.equal(problems, [], problems.join('\n'));
  // and the installation still updates cleanly afterwards
  const res = await apply(rel.l2, { target: w.target }, ctxWith());
  assert.is(res.kind, 'update');
  assert.is(differsFromV2(w.target), undefined);
});

test('EIO, EACCES, EPERM, EBUSY, EXDEV at a sample of mutations before the commit point: rolled back', async () => {
  const w = await installed();
  const codes = ['EIO', 'EACCES', 'EPERM', 'EBUSY', 'EXDEV'];
  // first mutation, one in staging, the first apply rename, one mid-apply, and the last before commit
  const firstRename = labels.filter((l) => l.startsWith('before ')).findIndex((l) => l.startsWith('before rename')) + 1;
  const sample = [...new Set([1, 5, firstRename, Math.floor((firstRename + beforeCommit) / 2), beforeCommit])];
  const problems: string[] = [];
  for (const [i, code] of codes.entries()) {
    // every code at two points, rotating through the sample
    for (const n of [sample[i % sample.length]!, sample[(i + 2) % sample.length]!]) problems.push(...(await failBeforeCommit(w, n, code)));
  }
  assert.equal(problems, [], problems.join('\n'));
});

/** Mutations before the commit point of a run, from its crash-point listing. */
function mutationsBeforeCommit(crashpoints: string): number {
  const ls = fs.readFileSync(crashpoints, 'utf8').split('\n').filter(Boolean).map((l) => l.slice(l.indexOf('\t') + 1));
  return ls.slice(0, ls.indexOf('journal committed')).filter((l) => l.startsWith('before ')).length;
}

test('fresh install, into a missing target and into a dir holding user data: every failure before commit leaves it as it was', async () => {
  const problems: string[] = [];
  for (const withUserData of [false, true]) {
    const fresh = (): string => {
      const target = path.join(tempDir(), 'app');
      if (withUserData) makeTree(target, { 'user_data/db': 'precious', 'index.js': 'unmanaged old file\n', 'notes.txt': 'mine' });
      return target;
    };
    const out = path.join(tempDir(), 'cp.txt');
    await apply(rel.l1, { target: fresh() }, ctxWith({ crashpointsOut: out }));
    const count = mutationsBeforeCommit(out);
    if (count < 3) problems.push(`install (user data: ${withUserData}): only ${count} mutations before commit`);
    // one target for every failure: each rollback must leave it as it was for the next attempt
    const target = fresh();
    const before = snap(target);
    for (let n = 1; n <= count; n++) {
      const tag = `install (user data: ${withUserData}) failAt ${n}:ENOSPC`;
      try {
        await apply(rel.l1, { target }, ctxWith({ failAt: { n, code: 'ENOSPC' } }));
        problems.push(`${tag}: succeeded`);
      } catch (e: unknown) {
        if (!(e instanceof TxnError) || e.exitCode !== 1) problems.push(`${tag}: expected a TxnError with exit 1, found ${String(e)}`);
      }
      if (JSON.stringify(snap(target)) !== JSON.stringify(before)) problems.push(`${tag}: target changed: ${JSON.stringify(snap(target))}`);
      const want = withUserData ? CLEAN_SIBLINGS : CLEAN_SIBLINGS.filter((name) => name !== 'app');
      const sib = siblings(target);
      if (JSON.stringify(sib) !== JSON.stringify(want)) problems.push(`${tag}: leftovers: ${sib.join(', ')}`);
      if (lastTxn(target).state !== 'rolled_back') problems.push(`${tag}: journal state ${lastTxn(target).state}`);
    }
  }
  assert.equal(problems, [], problems.join('\n'));
});

test('a failure after the commit point: the target is at v2, cleanupPending, and the next run finishes the cleanup', async () => {
  const problems: string[] = [];
  for (let n = beforeCommit + 1; n <= total; n++) {
    const target = await installedWithUserFiles();
    const tag = `failAt ${n}:ENOSPC (${labels.filter((l) => l.startsWith('before '))[n - 1]})`;
    let res;
    try {
      res = await apply(rel.l2, { target }, ctxWith({ failAt: { n, code: 'ENOSPC' } }));
    } catch (e: unknown) {
      problems.push(`${tag}: expected success with cleanup pending, found ${String(e)}`);
      continue;
    }
    if (!res.cleanupPending) problems.push(`${tag}: cleanupPending is false`);
    if (!res.warnings.some((w) => /cleanup/.test(w))) problems.push(`${tag}: no warning about the cleanup: ${JSON.stringify(res.warnings)}`);
    const diff = differsFromV2(target);
    if (diff) problems.push(`${tag}: target is not v2: ${diff}`);
    if (fs.readFileSync(path.join(target, '.codemate-version'), 'utf8') !== '2.0.0\n') problems.push(`${tag}: version file is not 2.0.0`);
    if (fs.readFileSync(path.join(target, 'config/user_settings.json'), 'utf8') !== USER_SETTINGS) problems.push(`${tag}: user settings changed`);
    if (lastTxn(target).state !== 'committed') problems.push(`${tag}: journal state ${lastTxn(target).state}, expected committed`);
    // The next writing command finishes it: recover for odd n, a same-version apply for even n.
    if (n % 2 === 1) {
      const r = await recover({ target }, ctxWith());
      if (r.recovered.length !== 1 || r.recovered[0]!.action !== 'finished-cleanup') problems.push(`${tag}: recover did ${JSON.stringify(r.recovered)}`);
    } else {
      const again = await apply(rel.l2, { target }, ctxWith());
      if (again.kind !== 'noop' || again.recovered.length !== 1) problems.push(`${tag}: the next apply gave ${again.kind}, recovered ${again.recovered.length}`);
    }
    const sib = siblings(target);
    if (JSON.stringify(sib) !== JSON.stringify(CLEAN_SIBLINGS)) problems.push(`${tag}: leftovers after the next run: ${sib.join(', ')}`);
    const t = lastTxn(target);
    if (t.state !== 'done') problems.push(`${tag}: journal state after the next run ${t.state}, expected done`);
    const diff2 = differsFromV2(target);
    if (diff2) problems.push(`${tag}: target changed by the finishing run: ${diff2}`);
  }
  assert.equal(problems, [], problems.join('\n'));
});

test('recover() releases the lock and closes the journal: the same process can apply right after', async () => {
  // An embedding auto-updater runs recover() at startup, then apply(); both in one process.
  const target = await installedWithUserFiles();
  const r = await recover({ target }, ctxWith());
  assert.equal(r.recovered, []);
  assert.equal(siblings(target), CLEAN_SIBLINGS, 'no -wal/-shm left open, lock file not held');
  const res = await apply(rel.l2, { target }, ctxWith());
  assert.is(res.kind, 'update', 'not E_LOCKED by our own earlier recover()');
});

// --- content that fails verification while staging -------------------------------------------

interface Failed {
  err: TxnError;
  target: string;
  before: string[];
}

/** Installs v1 (with user files) then applies a v2 whose source was tampered with by `tamper`. */
async function updateWithTamperedSource(tamper: (files: string) => void, fsImpl?: TxnFs): Promise<Failed> {
  const root = tempDir();
  const r = await makeReleases(root);
  const target = path.join(root, 'inst', 'app');
  await apply(r.l1, { target }, ctxWith());
  makeTree(target, USER_FILES);
  tamper(path.join(root, 'rel-2', 'files'));
  const before = snap(target);
  try {
    await apply(r.l2, { target }, fsImpl ? { ...defaultContext({}), fs: fsImpl } : ctxWith());
  } catch (e: unknown) {
    if (!(e instanceof TxnError)) throw e;
    return { err: e, target, before };
  }
  throw new Error('expected the update to fail');
}

function assertUntouched(f: Failed): void {
  assert.equal(snap(f.target), f.before, 'target untouched');
  assert.equal(siblings(f.target), CLEAN_SIBLINGS, 'staging removed, no backup');
  const t = lastTxn(f.target);
  assert.is(t.state, 'rolled_back');
  assert.is(t.errorCode, f.err.code);
  assert.ok(t.error);
}

test('a corrupted source file (same size, other bytes) → E_STAGE_VERIFY, exit 1, target untouched', async () => {
  const f = await updateWithTamperedSource((files) => fs.writeFileSync(path.join(files, 'src/b.js'), 'bX\n'));
  assert.is(f.err.code, 'E_STAGE_VERIFY');
  assert.is(f.err.exitCode, 1);
  assert.match(f.err.message, /src\/b\.js/);
  assert.match(f.err.message, /sha256/);
  assertUntouched(f);
});

test('a missing source file → E_SOURCE_MISSING, exit 1, target untouched', async () => {
  const f = await updateWithTamperedSource((files) => fs.rmSync(path.join(files, 'src/new/c.js')));
  assert.is(f.err.code, 'E_SOURCE_MISSING');
  assert.is(f.err.exitCode, 1);
  assert.match(f.err.message, /src\/new\/c\.js/);
  assertUntouched(f);
});

/** Records, right after each staged copy (local or streamed), how many bytes reached the staged file. */
class StagedSizes extends TxnFs {
  readonly sizes = new Map<string, number>();
  private record(dst: string): void {
    const st = this.lstat(dst);
    if (st) this.sizes.set(dst, st.size);
  }
  override async copyIn(src: string, dst: string, opts: CopyOptions): Promise<WriteResult> {
    try {
      return await super.copyIn(src, dst, opts);
    } finally {
      this.record(dst);
    }
  }
  override async streamIn(dst: string, chunks: AsyncIterable<Buffer>, opts: CopyOptions): Promise<WriteResult> {
    try {
      return await super.streamIn(dst, chunks, opts);
    } finally {
      this.record(dst);
    }
  }
}

test('a source file longer than declared → size error, the staged copy is cut off, staging removed', async () => {
  const spy = new StagedSizes();
  const big = Buffer.alloc(8 * 1024 * 1024 + 3, 0x61);
  const f = await updateWithTamperedSource((files) => fs.writeFileSync(path.join(files, 'src/b.js'), big), spy);
  assert.is(f.err.code, 'E_STAGE_VERIFY');
  assert.is(f.err.exitCode, 1);
  assert.match(f.err.message, /size/);
  assert.match(f.err.message, /src\/b\.js/);
  // Staging is flat (0000001…): whichever staged file took src/b.js, none holds more than a few
  // bytes (the release's other files are under 20 bytes; the 8 MiB source was cut off).
  const largest = Math.max(...spy.sizes.values());
  assert.ok(spy.sizes.size > 0, 'files were staged');
  assert.ok(largest < 64, `the copy stopped near the declared size (3 bytes), found ${largest} bytes staged of ${big.length}`);
  assertUntouched(f);
});

test('a source file shorter than declared → size error, target untouched', async () => {
  const f = await updateWithTamperedSource((files) => fs.writeFileSync(path.join(files, 'src/b.js'), 'b'));
  assert.is(f.err.code, 'E_STAGE_VERIFY');
  assert.match(f.err.message, /size/);
  assertUntouched(f);
});

test.run();
