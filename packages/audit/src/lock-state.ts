/**
 * Who holds the target's lock, found without touching it. The lock is an exclusive SQLite lock
 * (POSIX fcntl byte-range locks) on `<journal>.lock`; the holder file beside it is informational
 * and outlives the lock. Probing by opening the lock database would take a SHARED lock for an
 * instant, which can make a writer starting at that moment fail with E_LOCKED — an auditor must
 * never block an apply. So on Linux the kernel's lock table (/proc/locks) is read instead: it is
 * the truth and costs the writer nothing. Elsewhere the holder file's pid is checked for life,
 * which is only a hint (pid reuse, a long-lived embedding process that released the lock).
 */
import * as fs from 'node:fs';
import { readLockHolder, type LockHolder } from '@codemate-txn/journal';

export interface LockState {
  /** The lock file (`<journal>.lock`). */
  path: string;
  held: boolean;
  /** pid holding the lock (from the kernel's lock table, or the holder file when method is 'pid-alive'). */
  pid: number | null;
  /** Contents of `<lock>.holder` while the lock is held; null when free. */
  holder: LockHolder | null;
  /** 'proc-locks': read from the kernel (exact); 'pid-alive': holder file pid is alive (a hint). */
  method: 'proc-locks' | 'pid-alive';
}

/** SQLite's unix VFS locks bytes 0x40000000 .. 0x400001ff (PENDING, RESERVED, SHARED range). */
const SQLITE_LOCK_FIRST = 0x40000000;
const SQLITE_LOCK_LAST = 0x40000000 + 511;

export function lockState(lockPath: string): LockState {
  let ino: bigint;
  try {
    ino = fs.statSync(lockPath, { bigint: true }).ino;
  } catch {
    return { path: lockPath, held: false, pid: null, holder: null, method: procLocks() === undefined ? 'pid-alive' : 'proc-locks' };
  }
  const table = procLocks();
  if (table !== undefined) {
    const pid = writerPid(table, ino);
    return {
      path: lockPath,
      held: pid !== null,
      pid,
      holder: pid !== null ? readLockHolder(lockPath) ?? null : null,
      method: 'proc-locks',
    };
  }
  const holder = readLockHolder(lockPath);
  const alive = holder !== undefined && pidAlive(holder.pid);
  return { path: lockPath, held: alive, pid: alive ? holder.pid : null, holder: alive ? holder : null, method: 'pid-alive' };
}

function procLocks(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    return fs.readFileSync('/proc/locks', 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Lines look like `3: POSIX  ADVISORY  WRITE 4213 fe:00:2146691 1073741824 1073742335`; blocked
 * waiters carry a `->` and are skipped. Matched on inode and SQLite's lock range (device numbers
 * are not compared: overlay filesystems report them differently in stat and in /proc/locks).
 */
function writerPid(table: string, ino: bigint): number | null {
  for (const line of table.split('\n')) {
    if (line.includes('->')) continue;
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || f[1] !== 'POSIX' || f[3] !== 'WRITE') continue;
    const id = (f[5] ?? '').split(':');
    if (id.length !== 3 || id[2] !== ino.toString()) continue;
    const start = Number(f[6]);
    if (start < SQLITE_LOCK_FIRST || start > SQLITE_LOCK_LAST) continue;
    const pid = Number(f[4]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  }
  return null;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e: unknown) {
    // EPERM: it exists but belongs to someone else.
    return (e as { code?: unknown }).code === 'EPERM';
  }
}
