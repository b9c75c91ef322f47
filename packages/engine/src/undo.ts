/**
 * Undo of a transaction's forward ops, newest first, deciding from the filesystem alone whether
 * each op took effect. Every undo step is itself journaled (phase 'undo', ref_seq) and idempotent,
 * so a crash during undo followed by another undo gives the same end state.
 *
 *   op kind / undo     took effect when             undo
 *   rename/rename-back dst present, src absent      rename dst -> src
 *   mkdir/rmdir        dst is a directory           rmdir (left alone if not empty)
 *   mkdir/rmtree       dst present                  remove the whole tree (staging, backup roots)
 *   chmod/chmod-back   dst present                  chmod old_mode
 *   anything/none      -                            nothing (inside a tree removed as a whole)
 */
import * as path from 'node:path';
import { isErrno } from '@codemate-txn/core';
import type { Journal, OpIntent, OpRecord } from '@codemate-txn/journal';
import type { EngineContext } from './context.js';
import { touchedDirs, type Step } from './steps.js';

function undoStep(ctx: EngineContext, op: OpRecord, notes: string[], resumeDir?: string): Step | undefined {
  const fs = ctx.fs;
  const base = { phase: 'undo' as const, path: op.path, refSeq: op.seq, undo: 'none' as const, ftype: op.ftype };
  switch (op.undo) {
    case 'none':
      return undefined;
    case 'rename-back': {
      if (!op.src || !op.dst) return undefined;
      const atDst = fs.lstat(op.dst) !== undefined;
      const atSrc = fs.lstat(op.src) !== undefined;
      if (!atDst || atSrc) {
        if (!atDst && !atSrc) notes.push(`undo of op ${op.seq}: neither ${op.src} nor ${op.dst} exists; nothing to move back`);
        return undefined;
      }
      const intent: OpIntent = { ...base, kind: 'rename', action: 'undo-' + (op.action ?? 'rename'), src: op.dst, dst: op.src };
      return { intent, run: () => fs.rename(op.dst!, op.src!) };
    }
    case 'rmdir': {
      if (!op.dst) return undefined;
      const st = fs.lstat(op.dst);
      if (st === undefined || !st.isDirectory()) return undefined;
      if (fs.readdir(op.dst).length > 0) {
        notes.push(`left ${op.dst} in place: it is not empty (something other than this transaction put files there)`);
        return undefined;
      }
      const intent: OpIntent = { ...base, kind: 'rmdir', action: 'undo-mkdir', dst: op.dst };
      return {
        intent,
        run: () => {
          try {
            fs.rmdir(op.dst!);
          } catch (e: unknown) {
            if (!isErrno(e, 'ENOENT', 'ENOTEMPTY', 'EEXIST')) throw e;
          }
        },
      };
    }
    case 'rmtree': {
      if (!op.dst || fs.lstat(op.dst) === undefined) return undefined;
      if (resumeDir !== undefined && op.action === 'staging-root') {
        // Interrupted while downloading: keep the verified downloads for the next apply (it
        // re-verifies each by hash before use, and removes the rest).
        const intent: OpIntent = { ...base, kind: 'rename', action: 'keep-for-resume', src: op.dst, dst: resumeDir };
        return {
          intent,
          run: () => {
            fs.rmTree(resumeDir);
            fs.rename(op.dst!, resumeDir);
          },
        };
      }
      const intent: OpIntent = { ...base, kind: 'rmtree', action: 'undo-mkdir', dst: op.dst };
      return { intent, run: () => fs.rmTree(op.dst!) };
    }
    case 'chmod-back': {
      if (!op.dst || op.oldMode === null) return undefined;
      const st = fs.lstat(op.dst);
      if (st === undefined || st.isSymbolicLink() || (st.mode & 0o7777) === op.oldMode) return undefined;
      const intent: OpIntent = { ...base, kind: 'chmod', action: 'undo-chmod', dst: op.dst, mode: op.oldMode, oldMode: op.mode };
      return { intent, run: () => fs.chmod(op.dst!, op.oldMode!) };
    }
  }
}

/**
 * Undoes every forward op of the transaction whose effect is present, newest first.
 *
 * Each op is decided against the live filesystem, and decisions are made durable before anything
 * could make a later pass see the disk differently: ops settled as needing no undo are marked
 * before the next undo intents are journaled, and a tree removal (the staging or backup root)
 * always runs alone, after everything newer is settled, so a later pass never re-decides a place
 * op whose staged file the removal took.
 *
 * Independent undo steps share a batch (one commit for the intents, one for the marks): steps are
 * independent when no path of one equals or contains a path of another. An op touching a path
 * already in the batch, and every rmdir/rmtree, starts a new batch.
 */
export async function undoTxn(j: Journal, ctx: EngineContext, txnId: number, opts: { resumeDir?: string } = {}): Promise<{ undone: number; notes: string[] }> {
  const ops = j.ops(txnId).filter((o) => (o.phase === 'stage' || o.phase === 'apply' || o.phase === 'redo') && o.state !== 'undone' && o.state !== 'skipped');
  const notes: string[] = [];
  let undone = 0;
  let settledRan: number[] = [];
  let settledNever: number[] = [];
  let batch: Array<{ op: OpRecord; step: Step }> = [];
  let batchPaths = new Set<string>();

  const settle = (): void => {
    j.markOps(txnId, settledRan, 'undone', undefined, 'undo settled');
    j.markOps(txnId, settledNever, 'skipped', undefined, 'undo settled');
    settledRan = [];
    settledNever = [];
  };
  const flush = async (): Promise<void> => {
    settle();
    if (batch.length === 0) return;
    const seqs = j.addOps(txnId, batch.map((b) => b.step.intent), 'undo intents');
    const dirs = new Set<string>();
    for (const b of batch) {
      await b.step.run();
      for (const d of touchedDirs(b.step.intent)) dirs.add(d);
    }
    await ctx.fs.barrier([], dirs);
    j.markOps(txnId, seqs, 'done', undefined, 'undo done');
    j.markOps(txnId, batch.map((b) => b.op.seq), 'undone', undefined, 'undo marked');
    undone += batch.length;
    ctx.onProgress?.({ phase: 'undo', done: undone, total: ops.length });
    batch = [];
    batchPaths = new Set();
  };
  // Compared case-folded: on a case-insensitive disk Readme.md and README.md are one path (a
  // case-only rename backs up one and places the other), and their undos must not share a batch,
  // or the backup's undo is decided while the placed file still answers to the old name.
  const related = (p: string): boolean => {
    for (let q = foldPath(p); q.length > 1; q = path.dirname(q)) if (batchPaths.has(q)) return true;
    return false;
  };
  const contains = (p: string): boolean => {
    const prefix = foldPath(p) + path.sep;
    for (const b of batchPaths) if (b.startsWith(prefix)) return true;
    return false;
  };

  for (let i = ops.length - 1; i >= 0; i--) {
    const op = ops[i]!;
    if (op.undo === 'none') continue;
    const paths = [op.src, op.dst].filter((p): p is string => p !== null);
    const solo = op.undo === 'rmdir' || op.undo === 'rmtree';
    if (solo || paths.some(related) || paths.some(contains)) await flush();
    const step = undoStep(ctx, op, notes, opts.resumeDir);
    if (!step) {
      if (op.state === 'pending') settledNever.push(op.seq);
      else if (op.state === 'done') settledRan.push(op.seq);
      continue; // a 'failed' op keeps its state: it never took effect
    }
    batch.push({ op, step });
    for (const p of paths) batchPaths.add(foldPath(p));
    if (solo || batch.length >= 1024) await flush();
  }
  await flush();
  settle();
  // Ops inside a tree removed as a whole (staged files, backup dirs) went with it.
  const inTree = ops.filter((o) => o.undo === 'none');
  j.markOps(txnId, inTree.filter((o) => o.state === 'done').map((o) => o.seq), 'undone', undefined, 'undo settled');
  j.markOps(txnId, inTree.filter((o) => o.state === 'pending').map((o) => o.seq), 'skipped', undefined, 'undo settled');
  return { undone, notes };
}

/** A path as a case-insensitive disk compares it. */
function foldPath(p: string): string {
  return p.normalize('NFC').toLowerCase();
}
