/**
 * Recovery (DESIGN §6), decided by the journal's recorded state alone:
 *
 *   staging                 undo (removes staging)              → rolled_back, target untouched
 *   applying / rolling_back undo every op present, newest first → rolled_back, target as before
 *   applying + --forward    redo the rest if every staged file verifies, commit; else undo
 *   committed               finish cleanup                      → done, target at the new version
 *
 * Every step is journaled and idempotent: a crash during recovery and a second recovery end the same.
 */
import * as fsNode from 'node:fs';
import * as path from 'node:path';
import { TxnError, errorMessage, targetLayout, type TargetLayout, type TxnState } from '@codemate-txn/core';
import { hashFile } from '@codemate-txn/fsops';
import type { Journal, OpRecord, TxnRecord } from '@codemate-txn/journal';
import { defaultContext, type EngineContext } from './context.js';
import { runSteps, type Step } from './steps.js';
import { undoTxn } from './undo.js';
import { openForWrite } from './open.js';

export interface RecoverSummary {
  txnId: number;
  found: TxnState;
  /** cleanup-pending: committed, but its cleanup failed again (the notes say why); a later run retries. */
  action: 'rolled-back' | 'finished-cleanup' | 'rolled-forward' | 'cleanup-pending';
  end: 'rolled_back' | 'done' | 'committed';
  fromVersion: string | null;
  toVersion: string;
  notes: string[];
}

export interface RecoverOptions {
  target: string;
  journal?: string;
  forward?: boolean;
  waitSeconds?: number;
}

export interface RecoverResult {
  ok: true;
  target: string;
  recovered: RecoverSummary[];
}

function exists(ctx: EngineContext, p: string | null): boolean {
  return p !== null && ctx.fs.lstat(p) !== undefined;
}

/**
 * Cleanup after the commit point: backup (unless kept) and staging go, then state 'done'.
 * Returns the kept backup directory, if any.
 */
export async function cleanupTxn(j: Journal, ctx: EngineContext, txnId: number, recoveredBy?: string): Promise<string | null> {
  const txn = j.getTxn(txnId)!;
  const layout = targetLayout(txn.target, undefined);
  const steps: Step[] = [];
  const fs = ctx.fs;
  if (txn.backupDir && !txn.keepBackup && exists(ctx, txn.backupDir)) {
    steps.push({
      intent: { phase: 'cleanup', kind: 'rmtree', action: 'remove-backup', path: '', dst: txn.backupDir, undo: 'none' },
      run: () => fs.rmTreeAsync(txn.backupDir!),
    });
  }
  if (exists(ctx, txn.stagingDir)) {
    steps.push({
      intent: { phase: 'cleanup', kind: 'rmtree', action: 'remove-staging', path: '', dst: txn.stagingDir, undo: 'none' },
      run: () => fs.rmTreeAsync(txn.stagingDir),
    });
  }
  if (!txn.keepBackup) {
    // backup_staging/<name> and backup_staging/ go only when empty.
    const appDir = txn.backupDir ? path.dirname(txn.backupDir) : layout.backupApp;
    for (const dir of [appDir, path.dirname(appDir)]) {
      steps.push({
        intent: { phase: 'cleanup', kind: 'rmdir', action: 'remove-backup-root', path: '', dst: dir, undo: 'none' },
        run: () => {
          const st = fs.lstat(dir);
          if (st?.isDirectory() && fs.readdir(dir).length === 0) fs.rmdir(dir);
        },
      });
    }
  }
  await runSteps(j, ctx, txnId, steps, { phase: 'cleanup', uninterruptible: true });
  j.setState(txnId, 'done', recoveredBy ? { recoveredBy } : {});
  return txn.keepBackup && txn.backupDir ? txn.backupDir : null;
}

/**
 * Forward recovery is possible when the whole plan was journaled and every place op's bytes are
 * where they should be and verify. Returns why not, for the report.
 */
async function whyNotForward(ctx: EngineContext, ops: OpRecord[]): Promise<string | undefined> {
  // The apply intents are journaled in one commit ending with the version file (or the root
  // rename): without that last op the plan is not all there, and only undo is safe.
  if (!ops.some((o) => o.phase === 'apply' && (o.action === 'version' || o.action === 'place-root'))) {
    return 'the interrupted run had not journaled its apply plan yet';
  }
  for (const op of ops) {
    if (op.phase !== 'apply' || op.kind !== 'rename' || !op.src || !op.dst) continue;
    const atSrc = exists(ctx, op.src);
    const atDst = exists(ctx, op.dst);
    if (!atSrc && !atDst) return `"${op.path}" is neither staged (${op.src}) nor in place (${op.dst})`;
    if (op.ftype === 'file' && op.sha256) {
      const where = atSrc ? op.src : op.dst;
      // A backup op's dst is the backup; only place ops carry the new sha256.
      const h = await hashFile(where).catch(() => undefined);
      if (!h || h.sha256 !== op.sha256 || h.size !== op.size) {
        return `the staged "${op.path}" (${where}) does not verify: expected ${op.size} bytes with sha256 ${op.sha256}, found ${h ? `${h.size} bytes with sha256 ${h.sha256}` : 'nothing readable'}`;
      }
    }
  }
  return undefined;
}

/**
 * Redoes the apply ops that did not take effect, in order, then commits. Each op is decided just
 * before it runs (an earlier redo changes what a later one finds: the old version file must be
 * backed up before the new one can be placed).
 */
async function rollForward(j: Journal, ctx: EngineContext, txn: TxnRecord): Promise<void> {
  const fs = ctx.fs;
  for (const op of j.ops(txn.id)) {
    if (op.phase !== 'apply') continue;
    const base = { phase: 'redo' as const, path: op.path, refSeq: op.seq, ftype: op.ftype, src: op.src, dst: op.dst, mode: op.mode, oldMode: op.oldMode, undo: op.undo, action: op.action };
    let step: Step | undefined;
    if (op.kind === 'rename' && op.src && op.dst && exists(ctx, op.src) && !exists(ctx, op.dst)) {
      step = { intent: { ...base, kind: 'rename' }, run: () => fs.rename(op.src!, op.dst!) };
    } else if (op.kind === 'mkdir' && op.dst && !exists(ctx, op.dst)) {
      step = { intent: { ...base, kind: 'mkdir' }, run: () => fs.mkdir(op.dst!, op.mode ?? 0o755) };
    } else if (op.kind === 'chmod' && op.dst && op.mode !== null) {
      const st = fs.lstat(op.dst);
      if (st && (st.mode & 0o7777) !== op.mode) step = { intent: { ...base, kind: 'chmod' }, run: () => fs.chmod(op.dst!, op.mode!) };
    }
    if (step) await runSteps(j, ctx, txn.id, [step], { phase: 'redo', uninterruptible: true });
  }
  j.commitTxn(txn.id);
}

/**
 * Where an apply interrupted while downloading keeps its verified downloads (issue 4: resumable
 * staging): only for a transaction still staging, and only when something was downloaded.
 */
export function resumeDirFor(j: Journal, txnId: number, state: string, stagingDir: string): string | undefined {
  if (state !== 'staging') return undefined;
  // Ops are marked done only at the end of the phase: what counts is a download on disk.
  const downloaded = j.ops(txnId).some((o) => o.phase === 'stage' && o.kind === 'write' && /^https?:/.test(o.src ?? '') && o.dst !== null && fsNode.existsSync(o.dst));
  return downloaded ? `${stagingDir}.resume` : undefined;
}

async function recoverOne(j: Journal, ctx: EngineContext, txn: TxnRecord, forward: boolean, by: string): Promise<RecoverSummary> {
  const base = { txnId: txn.id, found: txn.state, fromVersion: txn.fromVersion, toVersion: txn.toVersion };
  if (txn.state === 'committed') {
    try {
      await cleanupTxn(j, ctx, txn.id, by);
    } catch (e: unknown) {
      // Past its commit point the target is at the new version: a backup that cannot be removed
      // must not stop every later run (it used to: exit 70 forever). Said, and retried next time.
      return {
        ...base, action: 'cleanup-pending', end: 'committed',
        notes: [`its cleanup failed again (${errorMessage(e)}); the target is at ${txn.toVersion}; the next run retries, or remove ${txn.backupDir ?? txn.stagingDir} by hand`],
      };
    }
    return { ...base, action: 'finished-cleanup', end: 'done', notes: [] };
  }
  const forwardNotes: string[] = [];
  if (forward && txn.state === 'applying') {
    const why = await whyNotForward(ctx, j.ops(txn.id));
    if (why === undefined) {
      await rollForward(j, ctx, txn);
      await cleanupTxn(j, ctx, txn.id, by);
      return { ...base, action: 'rolled-forward', end: 'done', notes: [] };
    }
    forwardNotes.push(`could not roll forward, so rolled back instead: ${why}`);
  } else if (forward) {
    forwardNotes.push(`--forward applies only to a transaction interrupted while applying; this one was in '${txn.state}'`);
  }
  if (txn.state !== 'rolling_back') {
    j.setState(txn.id, 'rolling_back', { error: `interrupted in state ${txn.state}; recovered by ${by}`, errorCode: 'E_INTERRUPTED', recoveredBy: by });
  }
  const { notes } = await undoTxn(j, ctx, txn.id, { resumeDir: resumeDirFor(j, txn.id, txn.state, txn.stagingDir) });
  j.setState(txn.id, 'rolled_back', { recoveredBy: by });
  return { ...base, action: 'rolled-back', end: 'rolled_back', notes: [...forwardNotes, ...notes] };
}

/**
 * Recovers every interrupted transaction (the lock is held, so their processes are dead).
 * 'committed' ones are always finished; others are refused with exit 3 when noRecover.
 */
export async function recoverPending(
  j: Journal,
  ctx: EngineContext,
  _layout: TargetLayout,
  opts: { noRecover: boolean; forward?: boolean; by: string },
): Promise<RecoverSummary[]> {
  const out: RecoverSummary[] = [];
  for (const txn of j.interruptedTxns()) {
    if (opts.noRecover && txn.state !== 'committed') {
      throw new TxnError('E_INTERRUPTED', `transaction ${txn.id} (${txn.kind} ${txn.fromVersion ?? 'nothing'} → ${txn.toVersion}) was interrupted in state '${txn.state}'`, {
        hint: `run: codemate-txn recover --target ${txn.target}`,
        details: { txnId: txn.id, state: txn.state },
      });
    }
    const s = await recoverOne(j, ctx, txn, opts.forward === true, opts.by);
    ctx.onNote?.(`recovered interrupted transaction ${s.txnId} (found '${s.found}'): ${s.action}, now ${s.end}`);
    out.push(s);
  }
  return out;
}

/** `codemate-txn recover`: takes the lock and recovers whatever is interrupted. */
export async function recover(opts: RecoverOptions, ctx: EngineContext = defaultContext()): Promise<RecoverResult> {
  const layout = targetLayout(opts.target, opts.journal);
  // No journal: nothing was ever begun here, so nothing can be interrupted. Create nothing (a
  // typo in --target must not leave a directory and an empty journal behind).
  if (!fsNode.existsSync(layout.journal)) return { ok: true, target: layout.target, recovered: [] };
  const { j, lock } = openForWrite(layout, ctx, opts.waitSeconds ?? 0, 'recover');
  try {
    const recovered = await recoverPending(j, ctx, layout, { noRecover: false, forward: opts.forward, by: 'recover' });
    return { ok: true, target: layout.target, recovered };
  } catch (e: unknown) {
    if (e instanceof TxnError) throw e;
    throw new TxnError('E_ROLLBACK_INCOMPLETE', `recovery failed: ${errorMessage(e)}`, {
      hint: 'fix the cause (disk full? permissions?) and run codemate-txn recover again; it resumes where it stopped',
      cause: e,
    });
  } finally {
    try {
      j.close();
    } finally {
      lock.release();
    }
  }
}
