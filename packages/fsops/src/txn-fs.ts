/**
 * The engine's filesystem seam: the only code in the project that changes the disk. Every
 * mutation passes a crash point before and after it, counts toward CODEMATE_TXN_FAIL_AT, and
 * leaves fsyncs to the caller's protocol only where the caller batches them (directory fsyncs);
 * file contents are fsynced here before the file is closed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { TxnError, isErrno } from '@codemate-txn/core';
import { FaultInjector, type FaultConfig } from './faults.js';

export interface WriteResult {
  size: number;
  sha256: string;
}

export interface CopyOptions {
  /** Cut the copy off as soon as it exceeds this many bytes. */
  maxSize: number;
  mode: number;
  /**
   * fsync before close (default true). False leaves durability to a later barrier() over the
   * whole phase, which must then run before anything depends on these bytes.
   */
  sync?: boolean;
}

const RETRY_CODES = ['EBUSY', 'EPERM', 'EACCES'];
const RETRY_DELAYS_MS = [10, 30, 90, 270];
const CHUNK = 1 << 20;
/** Files up to this size are read whole and synchronously (cheaper than thread-pool round trips). */
const SMALL_FILE = 256 * 1024;

async function* readChunks(fd: number): AsyncGenerator<Buffer> {
  for (;;) {
    const buf = Buffer.allocUnsafe(CHUNK);
    const bytesRead = await new Promise<number>((resolve, reject) => fs.read(fd, buf, 0, CHUNK, null, (e, n) => (e ? reject(e) : resolve(n))));
    if (bytesRead === 0) return;
    yield buf.subarray(0, bytesRead);
  }
}

/**
 * Opens a source for reading, refusing anything but a regular file (errno-style code ENOTREG,
 * with `kind`): a FIFO would block the read forever (and hold the lock), a device never ends.
 * O_NONBLOCK so that opening a FIFO does not itself wait for a writer; it changes nothing for a
 * regular file.
 */
export function openRegularFile(src: string): { fd: number; size: number } {
  const fd = fs.openSync(src, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  let st: fs.Stats;
  try {
    st = fs.fstatSync(fd);
  } catch (e: unknown) {
    fs.closeSync(fd);
    throw e;
  }
  if (st.isFile()) return { fd, size: st.size };
  fs.closeSync(fd);
  const kind = st.isFIFO() ? 'a FIFO' : st.isDirectory() ? 'a directory' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a regular file';
  const e = new Error(`ENOTREG: not a regular file (${kind}), open '${src}'`) as NodeJS.ErrnoException & { kind: string };
  e.code = 'ENOTREG';
  e.path = src;
  e.kind = kind;
  throw e;
}

/** A path that opens the file behind fd (Linux: /proc/self/fd/N), else the path it was opened by. */
function sourceHandlePath(fd: number, src: string): string {
  return process.platform === 'linux' ? `/proc/self/fd/${fd}` : src;
}

/** A copyFile error names /proc/self/fd/N; the user knows the source by its path. */
function namingSource(e: unknown, handle: string, src: string): unknown {
  const err = e as NodeJS.ErrnoException;
  if (handle === src || typeof err?.message !== 'string') return e;
  err.message = err.message.split(handle).join(src);
  if (err.path === handle) err.path = src;
  return err;
}

/** sha256 of an open file from its start, stopping as soon as it holds more than limit bytes. */
async function hashFd(fd: number, limit: number): Promise<WriteResult> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of readChunks(fd)) {
    size += chunk.length;
    if (size > limit) return { size, sha256: '' };
    h.update(chunk);
  }
  return { size, sha256: h.digest('hex') };
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function eexist(p: string, syscall: string): NodeJS.ErrnoException {
  const e = new Error(`EEXIST: refusing to replace existing path, ${syscall} '${p}'`) as NodeJS.ErrnoException;
  e.code = 'EEXIST';
  e.syscall = syscall;
  e.path = p;
  return e;
}

export class TxnFs {
  readonly faults: FaultInjector;
  /** Renames retried after a transient EBUSY/EPERM/EACCES (for reports). */
  retries = 0;
  /** Counters for reports and the benchmark. */
  readonly stats = { mutations: 0, fileFsyncs: 0, dirFsyncs: 0, syncfs: 0, journalCommits: 0 };

  constructor(cfg: FaultConfig = {}) {
    this.faults = new FaultInjector(cfg);
  }

  /** True while fault injection is on: callers then do their I/O one at a time. */
  get deterministic(): boolean {
    return this.faults.active;
  }

  point(label: string): void {
    if (label.startsWith('journal ')) this.stats.journalCommits++;
    this.faults.point(label);
  }

  private mutate<T>(syscall: string, p: string, fn: () => T): T {
    this.stats.mutations++;
    this.faults.point(`before ${syscall} ${p}`);
    this.faults.mutation(syscall, p);
    const out = fn();
    this.faults.point(`after ${syscall} ${p}`);
    return out;
  }

  private async mutateAsync<T>(syscall: string, p: string, fn: () => Promise<T>): Promise<T> {
    this.stats.mutations++;
    this.faults.point(`before ${syscall} ${p}`);
    this.faults.mutation(syscall, p);
    const out = await fn();
    this.faults.point(`after ${syscall} ${p}`);
    return out;
  }

  // --- mutations -------------------------------------------------------------------------------

  /** mkdir of one level, with its exact mode (umask does not apply). */
  mkdir(p: string, mode: number): void {
    this.mutate('mkdir', p, () => {
      fs.mkdirSync(p, { mode });
      fs.chmodSync(p, mode);
    });
  }

  /**
   * rename that never replaces: a destination that exists is an error (EEXIST), so a bug can never
   * clobber a file. Transient EBUSY/EPERM/EACCES (antivirus, indexers) are retried with backoff.
   */
  rename(src: string, dst: string): void {
    this.mutate('rename', `${src} -> ${dst}`, () => {
      if (this.lstat(dst) !== undefined) throw eexist(dst, 'rename');
      for (let attempt = 0; ; attempt++) {
        try {
          fs.renameSync(src, dst);
          return;
        } catch (e: unknown) {
          const delay = RETRY_DELAYS_MS[attempt];
          if (!isErrno(e, ...RETRY_CODES) || delay === undefined) throw e;
          this.retries++;
          sleepSync(delay);
        }
      }
    });
  }

  unlink(p: string): void {
    this.mutate('unlink', p, () => fs.unlinkSync(p));
  }

  rmdir(p: string): void {
    this.mutate('rmdir', p, () => fs.rmdirSync(p));
  }

  chmod(p: string, mode: number): void {
    this.mutate('chmod', p, () => fs.chmodSync(p, mode));
  }

  symlink(target: string, p: string): void {
    this.mutate('symlink', p, () => fs.symlinkSync(target, p));
  }

  /** Creates a new file with these bytes and mode: exclusive create, write, fchmod, fsync, close. */
  writeFile(p: string, data: Buffer | string, mode: number): WriteResult {
    return this.mutate('write', p, () => {
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      const fd = fs.openSync(p, 'wx', mode);
      try {
        let off = 0;
        while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
        fs.fchmodSync(fd, mode);
        fs.fsyncSync(fd);
        this.stats.fileFsyncs++;
      } finally {
        fs.closeSync(fd);
      }
      return { size: buf.length, sha256: createHash('sha256').update(buf).digest('hex') };
    });
  }

  /**
   * Copies a local file into a new file; fchmod, fsync unless deferred, close. Returns the size and
   * sha256 of what was written (the caller verifies it). The source is opened first (O_NONBLOCK,
   * fstat'ed: only a regular file).
   *
   * Small files (most release files) are read, hashed and written whole on the main thread: cheaper
   * than thread-pool round trips. A large file is copied by one thread-pool request (copyFile with
   * COPYFILE_FICLONE): a reflink where the filesystem supports it (btrfs, XFS, APFS), else an
   * in-kernel copy (copy_file_range or sendfile), through /proc/self/fd on Linux so that it is the
   * very file checked; then hashed as read back from the new file. A source larger than maxSize is
   * not copied at all.
   */
  async copyIn(src: string, dst: string, opts: CopyOptions): Promise<WriteResult> {
    const { fd: fdIn, size } = openRegularFile(src);
    try {
      if (opts.maxSize <= SMALL_FILE) return this.mutate('write', dst, () => this.copySmall(fdIn, size, dst, opts));
      if (size > opts.maxSize) return { size, sha256: '' };
      return await this.mutateAsync('write', dst, async () => {
        const handle = sourceHandlePath(fdIn, src);
        try {
          await fs.promises.copyFile(handle, dst, fs.constants.COPYFILE_EXCL | fs.constants.COPYFILE_FICLONE);
        } catch (e: unknown) {
          throw namingSource(e, handle, src);
        }
        return await this.finishCopy(dst, opts);
      });
    } finally {
      fs.closeSync(fdIn);
    }
  }

  /**
   * Small files are copied synchronously, whole: on the main thread a read, a hash and a write cost
   * less than the thread-pool round trips of a streamed copy (most release files are small).
   */
  private copySmall(fdIn: number, size: number, dst: string, opts: CopyOptions): WriteResult {
    // Read at most one byte past the limit: enough to know the source is too long.
    let buf = Buffer.allocUnsafe(Math.min(size, opts.maxSize + 1));
    let off = 0;
    while (off < buf.length) {
      const n = fs.readSync(fdIn, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    buf = buf.subarray(0, off);
    const fd = fs.openSync(dst, 'wx', opts.mode);
    try {
      if (buf.length > opts.maxSize) return { size: buf.length, sha256: '' };
      for (let w = 0; w < buf.length; ) w += fs.writeSync(fd, buf, w, buf.length - w);
      fs.fchmodSync(fd, opts.mode);
      if (opts.sync !== false) {
        fs.fsyncSync(fd);
        this.stats.fileFsyncs++;
      }
    } finally {
      fs.closeSync(fd);
    }
    return { size: buf.length, sha256: createHash('sha256').update(buf).digest('hex') };
  }

  /** The copied file: hash what it holds, set its mode, fsync it unless deferred. */
  private async finishCopy(dst: string, opts: CopyOptions): Promise<WriteResult> {
    // copyFile gave it the source's mode, which may not let us read it back (0004, say): owner
    // read-write while it is hashed (it is in the 0700 staging directory), the manifest's mode after.
    fs.chmodSync(dst, 0o600);
    const fd = fs.openSync(dst, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      const res = await hashFd(fd, opts.maxSize);
      fs.fchmodSync(fd, opts.mode);
      if (opts.sync !== false) {
        fs.fsyncSync(fd);
        this.stats.fileFsyncs++;
      }
      return res;
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * Writes a stream of chunks into a new file (downloads), hashing as it goes, stopping as soon as
   * the total exceeds maxSize; fchmod, fsync, close.
   */
  async streamIn(dst: string, chunks: AsyncIterable<Buffer>, opts: CopyOptions): Promise<WriteResult> {
    return this.mutateAsync('write', dst, () => this.writeChunks(dst, chunks, opts));
  }

  /** Exclusive create, write while hashing (stop past maxSize), fchmod, fsync unless deferred, close. */
  private async writeChunks(dst: string, chunks: AsyncIterable<Buffer>, opts: CopyOptions): Promise<WriteResult> {
    const out = await fs.promises.open(dst, 'wx', opts.mode);
    try {
      const h = createHash('sha256');
      let size = 0;
      for await (const chunk of chunks) {
        size += chunk.length;
        if (size > opts.maxSize) return { size, sha256: '' };
        h.update(chunk);
        let off = 0;
        while (off < chunk.length) off += (await out.write(chunk, off, chunk.length - off)).bytesWritten;
      }
      await out.chmod(opts.mode);
      if (opts.sync !== false) {
        await out.sync();
        this.stats.fileFsyncs++;
      }
      return { size, sha256: h.digest('hex') };
    } finally {
      await out.close();
    }
  }

  /** Removes a tree without following symlinks; every unlink and rmdir is its own mutation. */
  rmTree(p: string): void {
    const st = this.lstat(p);
    if (st === undefined) return;
    if (st.isDirectory()) {
      this.ensureWritableDir(p);
      for (const name of fs.readdirSync(p)) this.rmTree(path.join(p, name));
      this.rmdir(p);
    } else {
      this.unlink(p);
    }
  }

  // --- durability (not mutations) --------------------------------------------------------------

  fsyncDir(p: string): void {
    let fd: number;
    try {
      fd = fs.openSync(p, 'r');
    } catch (e: unknown) {
      if (isErrno(e, 'ENOENT')) return;
      throw e;
    }
    try {
      this.stats.dirFsyncs++;
      fs.fsyncSync(fd);
    } catch (e: unknown) {
      // Some filesystems refuse fsync on directories; the rename is then as durable as they allow.
      if (!isErrno(e, 'EINVAL', 'EISDIR', 'EBADF')) throw e;
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * fsyncs many directories, in parallel on the thread pool (the filesystem's journal then commits
   * them together); one at a time while fault injection is on.
   */
  async fsyncDirs(dirs: Iterable<string>, parallel = 16): Promise<void> {
    const list = [...new Set(dirs)];
    if (this.deterministic || parallel <= 1) {
      for (const d of list) this.fsyncDir(d);
      return;
    }
    let next = 0;
    const one = async (): Promise<void> => {
      while (next < list.length) {
        const d = list[next++]!;
        let fh: fs.promises.FileHandle;
        try {
          fh = await fs.promises.open(d, 'r');
        } catch (e: unknown) {
          if (isErrno(e, 'ENOENT')) continue;
          throw e;
        }
        try {
          this.stats.dirFsyncs++;
          await fh.sync();
        } catch (e: unknown) {
          if (!isErrno(e, 'EINVAL', 'EISDIR', 'EBADF')) throw e;
        } finally {
          await fh.close();
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, list.length) }, one));
  }

  /**
   * Durability barrier for a phase: the given files' bytes and directories' entries are on disk
   * when it returns. Many items on Linux: one syncfs(2) of the filesystem (`sync -f`, as
   * `cp && sync` does) instead of one fsync each; otherwise (few items, other platforms, fault
   * injection on) an fsync per file and directory.
   */
  async barrier(files: readonly string[], dirs: Iterable<string>): Promise<void> {
    const dirList = [...new Set(dirs)];
    const anchor = dirList[0] ?? (files[0] !== undefined ? path.dirname(files[0]) : undefined);
    if (anchor === undefined) return;
    if (!this.deterministic && process.platform === 'linux' && files.length + dirList.length > 32) {
      const r = spawnSync('sync', ['-f', anchor], { stdio: 'ignore' });
      if (r.status === 0) {
        this.stats.syncfs++;
        return;
      }
    }
    await this.fsyncFiles(files);
    await this.fsyncDirs(dirList);
  }

  private async fsyncFiles(files: readonly string[], parallel = 16): Promise<void> {
    let next = 0;
    const one = async (): Promise<void> => {
      while (next < files.length) {
        const f = files[next++]!;
        const fh = await fs.promises.open(f, 'r');
        try {
          this.stats.fileFsyncs++;
          await fh.sync();
        } finally {
          await fh.close();
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.deterministic ? 1 : parallel, files.length) }, one));
  }

  /**
   * Removes a tree without following symlinks, each unlink and rmdir its own mutation; the
   * entries of a directory go in parallel (thread pool) unless fault injection is on.
   */
  async rmTreeAsync(p: string, parallel = 16): Promise<void> {
    if (this.deterministic) {
      this.rmTree(p);
      return;
    }
    const st = this.lstat(p);
    if (st === undefined) return;
    if (!st.isDirectory()) {
      await this.mutateAsync('unlink', p, () => fs.promises.unlink(p));
      return;
    }
    await this.rmDirAsync(p, parallel);
  }

  /**
   * A directory about to be emptied must be writable and searchable by us: a read-only directory
   * (mode 555, say, moved to the backup as it was) would otherwise make its removal fail for good.
   */
  private ensureWritableDir(p: string): void {
    const st = this.lstat(p);
    if (st !== undefined && st.isDirectory() && (st.mode & 0o300) !== 0o300) this.chmod(p, (st.mode & 0o7777) | 0o700);
  }

  /** rmTreeAsync of a directory: entries whose type the listing gives need no lstat of their own. */
  private async rmDirAsync(p: string, parallel: number): Promise<void> {
    this.ensureWritableDir(p);
    const ents = fs.readdirSync(p, { withFileTypes: true });
    let next = 0;
    const one = async (): Promise<void> => {
      while (next < ents.length) {
        const ent = ents[next++]!;
        const child = path.join(p, ent.name);
        if (ent.isDirectory()) await this.rmDirAsync(child, parallel);
        else if (ent.isFile() || ent.isSymbolicLink()) await this.mutateAsync('unlink', child, () => fs.promises.unlink(child));
        else await this.rmTreeAsync(child, parallel); // type unknown (some filesystems) or special: lstat decides
      }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, ents.length) }, one));
    await this.mutateAsync('rmdir', p, () => fs.promises.rmdir(p));
  }

  // --- reads -----------------------------------------------------------------------------------

  lstat(p: string): fs.Stats | undefined {
    try {
      // No exception for a missing path: building one costs more than the syscall, and most
      // lstats here (never-replace checks, scans of new files) are of paths that do not exist.
      return fs.lstatSync(p, { throwIfNoEntry: false });
    } catch (e: unknown) {
      if (isErrno(e, 'ENOENT', 'ENOTDIR')) return undefined;
      throw e;
    }
  }

  readlink(p: string): string {
    return fs.readlinkSync(p);
  }

  /** Whether p, followed through symlinks, is a directory (false when it dangles or loops). */
  isDirFollowed(p: string): boolean {
    try {
      return fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
    } catch {
      return false; // a loop (ELOOP) or no permission: not a directory we can see
    }
  }

  readdir(p: string): string[] {
    return fs.readdirSync(p);
  }

  /**
   * Refuses to act below a symlink: every directory between root (exclusive) and p's parent must
   * be a real directory at the moment of use. `known` caches directories already checked in this
   * phase.
   */
  assertRealParents(root: string, p: string, known?: Set<string>): void {
    const rel = path.relative(root, path.dirname(p));
    if (rel === '') return;
    if (rel.startsWith('..') || path.isAbsolute(rel)) {
      throw new TxnError('E_INTERNAL', `path ${p} is outside ${root}`);
    }
    let cur = root;
    for (const seg of rel.split(path.sep)) {
      cur = path.join(cur, seg);
      if (known?.has(cur)) continue;
      const st = this.lstat(cur);
      if (st === undefined) return; // not there yet: created later by a journaled mkdir
      if (st.isSymbolicLink() || !st.isDirectory()) {
        throw new TxnError('E_SYMLINK_PARENT', `refusing to write below ${cur}: it is ${st.isSymbolicLink() ? 'a symlink' : 'not a directory'}, expected a real directory`, {
          hint: 'a directory in the target was replaced by a symlink; nothing was written through it',
          details: { path: p, parent: cur },
        });
      }
      known?.add(cur);
    }
  }
}
