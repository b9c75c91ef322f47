/**
 * One writer per target. The lock is an exclusive SQLite lock (fcntl underneath) on a small file
 * beside the journal, held for the life of the transaction: the OS drops it when the process dies,
 * so there is never a stale lock after kill -9. Who holds it is written to `<lock>.holder` (only
 * informational: the SQLite lock is the truth).
 */
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import { TxnError } from '@codemate-txn/core';

export interface LockHolder {
  pid: number;
  host: string;
  command: string;
  startedAt: string;
}

/**
 * Open lock connections, kept reachable until release(): if a Lock object were garbage collected,
 * better-sqlite3 would close its connection and the OS lock would silently go with it.
 */
const HELD = new Set<Database.Database>();

export interface Lock {
  readonly path: string;
  release(): void;
}

function isBusy(e: unknown): boolean {
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'string' &&
    String((e as unknown as { code: string }).code).startsWith('SQLITE_BUSY');
}

export function readLockHolder(lockPath: string): LockHolder | undefined {
  try {
    return JSON.parse(fs.readFileSync(`${lockPath}.holder`, 'utf8')) as LockHolder;
  } catch {
    return undefined;
  }
}

/** Takes the lock or throws E_LOCKED naming the holder. waitMs > 0 waits that long first. */
export function acquireLock(lockPath: string, holder: LockHolder, waitMs = 0): Lock {
  const fd = fs.openSync(lockPath, 'a', 0o600);
  fs.closeSync(fd);
  const db = new Database(lockPath);
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(waitMs))}`);
  try {
    db.exec('BEGIN EXCLUSIVE');
  } catch (e: unknown) {
    db.close();
    if (!isBusy(e)) throw e;
    const h = readLockHolder(lockPath);
    const who = h ? `process ${h.pid} on ${h.host} (${h.command}, since ${h.startedAt})` : 'another process';
    throw new TxnError('E_LOCKED', `target is locked by ${who}`, {
      hint: 'wait for it to finish, or pass --wait SECONDS',
      details: { lock: lockPath, holder: h ?? null },
    });
  }
  HELD.add(db);
  fs.writeFileSync(`${lockPath}.holder`, JSON.stringify(holder) + '\n', { mode: 0o600 });
  let released = false;
  return {
    path: lockPath,
    release(): void {
      if (released) return;
      released = true;
      HELD.delete(db);
      try {
        db.exec('ROLLBACK');
      } finally {
        db.close();
      }
    },
  };
}
