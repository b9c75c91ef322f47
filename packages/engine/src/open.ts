import * as fsNode from 'node:fs';
import * as path from 'node:path';
import { TxnError, errorMessage, type TargetLayout } from '@codemate-txn/core';
import { Journal, acquireLock, type Lock } from '@codemate-txn/journal';
import type { EngineContext } from './context.js';

/** Opens the journal (creating the target's parent for it) and takes the target's lock. */
export function openForWrite(layout: TargetLayout, ctx: EngineContext, waitSeconds = 0, command = 'apply'): { j: Journal; lock: Lock } {
  // A target that is a file or a symlink is refused before anything (journal, lock) is created.
  let tst: fsNode.Stats | undefined;
  try {
    tst = fsNode.lstatSync(layout.target, { throwIfNoEntry: false });
  } catch (e: unknown) {
    throw new TxnError('E_TARGET_INVALID', `cannot use ${layout.target} as the target: expected its parent to be a directory, found ${errorMessage(e)}`, {
      hint: 'check --target: its parent must be a writable directory',
      cause: e,
    });
  }
  if (tst && !tst.isDirectory()) {
    throw new TxnError('E_TARGET_INVALID', `the target ${layout.target} exists and is ${tst.isSymbolicLink() ? 'a symlink' : 'not a directory'}; expected a directory or nothing`, {
      hint: 'point --target at a directory (not a symlink to one), or move what is there; nothing was changed',
      details: { target: layout.target },
    });
  }
  refuseMountPoint(layout.target);
  const parent = path.dirname(layout.journal);
  try {
    fsNode.mkdirSync(parent, { recursive: true });
  } catch (e: unknown) {
    throw new TxnError('E_TARGET_INVALID', `cannot create ${parent} for the journal: expected a directory (or a path where one can be made), found ${errorMessage(e)}`, {
      hint: 'check --target: its parent must be a writable directory',
      cause: e,
    });
  }
  const unwritable = (e: unknown): TxnError =>
    new TxnError('E_TARGET_INVALID', `cannot write the journal and lock in ${parent}: expected a writable directory, found ${errorMessage(e)}`, {
      hint: 'staging, backup and the journal live beside the target: make that directory writable, or choose another --target/--journal',
      cause: e,
    });
  let lock: Lock;
  try {
    lock = acquireLock(layout.lock, { pid: ctx.pid, host: ctx.host, command, startedAt: ctx.now().toISOString() }, waitSeconds * 1000);
  } catch (e: unknown) {
    if (e instanceof TxnError) throw e;
    throw unwritable(e);
  }
  try {
    const j = Journal.open(layout.journal, { onCommit: (label) => ctx.fs.point(`journal ${label}`), now: ctx.now });
    return { j, lock };
  } catch (e: unknown) {
    lock.release();
    if (e instanceof TxnError) throw e;
    throw unwritable(e);
  }
}

/**
 * Placement and backup are renames between the target and its parent, which fail (EXDEV) across
 * a mount point even on one device (a bind mount): a target that is the filesystem root or a
 * mount point is refused before anything, journal and lock included, is created.
 */
export function refuseMountPoint(target: string): void {
  const hint = 'install into a directory below the mount point (e.g. --target <mount>/app), so staging and backup land on the same filesystem; nothing was changed';
  if (path.dirname(target) === target) {
    throw new TxnError('E_TARGET_INVALID', `the target ${target} is the filesystem root; expected a directory with a parent, where staging, backup and the journal live`, { hint, details: { target } });
  }
  if (process.platform !== 'linux') return;
  let canonical: string;
  let table: string;
  try {
    canonical = path.join(fsNode.realpathSync(path.dirname(target)), path.basename(target));
    table = fsNode.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return; // a missing parent is made by us (no mount there); no /proc: the device check in apply remains
  }
  for (const line of table.split('\n')) {
    const at = line.split(' ')[4];
    if (at !== undefined && unescapeMountPath(at) === canonical) {
      throw new TxnError('E_TARGET_INVALID', `the target ${target} is a mount point; expected a directory on the same filesystem as its parent, so that every placement is an atomic rename (across a mount point rename fails with EXDEV)`, {
        hint,
        details: { target, mountPoint: canonical },
      });
    }
  }
}

/** /proc/self/mountinfo writes space, tab, newline and backslash as octal escapes (\040…). */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}
