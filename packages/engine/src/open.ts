import * as fsNode from 'node:fs';
import * as path from 'node:path';
import { TxnError, errorMessage, type TargetLayout } from '@codemate-txn/core';
import { Journal, acquireLock, type Lock } from '@codemate-txn/journal';
import type { EngineContext } from './context.js';

/** Opens the journal (creating the target's parent for it) and takes the target's lock. */
export function openForWrite(layout: TargetLayout, ctx: EngineContext, waitSeconds = 0, command = 'apply'): { j: Journal; lock: Lock } {
  const parent = path.dirname(layout.journal);
  try {
    fsNode.mkdirSync(parent, { recursive: true });
  } catch (e: unknown) {
    throw new TxnError('E_TARGET_INVALID', `cannot create ${parent} for the journal: ${errorMessage(e)}`, { cause: e });
  }
  const lock = acquireLock(layout.lock, { pid: ctx.pid, host: ctx.host, command, startedAt: ctx.now().toISOString() }, waitSeconds * 1000);
  try {
    const j = Journal.open(layout.journal, { onCommit: (label) => ctx.fs.point(`journal ${label}`), now: ctx.now });
    return { j, lock };
  } catch (e) {
    lock.release();
    throw e;
  }
}

