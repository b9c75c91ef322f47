/**
 * Runs journaled steps: journal a batch of intents (one durable commit), execute each, fsync the
 * directories they touched, then mark the batch done (one commit). Recovery never trusts the
 * 'done' marks alone: it looks at the filesystem, so a crash anywhere in a batch is safe.
 */
import * as path from 'node:path';
import { TxnError, errorMessage } from '@codemate-txn/core';
import type { Journal, OpIntent } from '@codemate-txn/journal';
import type { EngineContext } from './context.js';

export interface Step {
  intent: OpIntent;
  run: () => void | Promise<void>;
}

export interface RunOptions {
  batchSize?: number;
  /** Parallel runs within a batch (staging writes). */
  parallel?: number;
  phase: 'stage' | 'apply' | 'cleanup' | 'undo' | 'redo';
  /** Don't check for signals (cleanup and undo must finish). */
  uninterruptible?: boolean;
  /** How many steps an iterable holds (for progress); an array's length otherwise. */
  total?: number;
}

/** The next up to n items of an iterator. */
function take<T>(it: Iterator<T>, n: number): T[] {
  const out: T[] = [];
  while (out.length < n) {
    const r = it.next();
    if (r.done === true) break;
    out.push(r.value);
  }
  return out;
}

/** Directories whose entries a step changes: fsynced once per batch. */
export function touchedDirs(intent: OpIntent): string[] {
  const out: string[] = [];
  if (intent.kind === 'rename' || intent.kind === 'rmtree' || intent.kind === 'rmdir') {
    if (intent.src) out.push(path.dirname(intent.src));
  }
  if (intent.dst) out.push(path.dirname(intent.dst));
  if (intent.kind === 'mkdir' && intent.dst) out.push(intent.dst);
  return out;
}

/**
 * Lets the event loop run (signal handlers are macrotasks): long runs of synchronous file
 * operations would otherwise never see a SIGINT until the phase ended.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function checkInterrupted(ctx: EngineContext): void {
  const sig = ctx.interrupted?.();
  if (sig) {
    throw new TxnError('E_SIGNAL', `interrupted by ${sig}`, { details: { signal: sig } });
  }
}

async function pool<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length && failed === undefined) {
      const i = next++;
      try {
        await fn(items[i]!);
      } catch (e: unknown) {
        if (failed === undefined) failed = e;
      }
    }
  });
  await Promise.all(workers);
  if (failed !== undefined) throw failed;
}

export async function runSteps(
  j: Journal,
  ctx: EngineContext,
  txnId: number,
  steps: Iterable<Step>,
  opts: RunOptions,
): Promise<void> {
  const batchSize = opts.batchSize ?? 512;
  const parallel = ctx.fs.deterministic ? 1 : Math.max(1, opts.parallel ?? 1);
  let done = 0;
  // One durability barrier per phase (files written without their own fsync, and directories),
  // after every op ran, before any op is marked done.
  const dirs = new Set<string>();
  const files: string[] = [];
  const allSeqs: number[] = [];
  // Steps are taken a batch at a time: an iterable (staging's file steps) is made as it is consumed.
  const total = opts.total ?? (Array.isArray(steps) ? steps.length : 0);
  const it = steps[Symbol.iterator]();
  for (;;) {
    if (!opts.uninterruptible) {
      await yieldToEventLoop();
      checkInterrupted(ctx);
    }
    const batch = take(it, batchSize);
    if (batch.length === 0) break;
    const seqs = j.addOps(txnId, batch.map((s) => s.intent), `${opts.phase} intents`);
    allSeqs.push(...seqs);
    const runOne = async (k: number): Promise<void> => {
      if (!opts.uninterruptible && k % 32 === 31) {
        await yieldToEventLoop();
        checkInterrupted(ctx);
      }
      const s = batch[k]!;
      try {
        await s.run();
      } catch (e: unknown) {
        try {
          j.markOps(txnId, [seqs[k]!], 'failed', errorMessage(e), `${opts.phase} failed`);
        } catch {
          // the original error matters more than recording it
        }
        throw e;
      }
      for (const d of touchedDirs(s.intent)) dirs.add(d);
      if (s.intent.kind === 'write' && s.intent.dst) files.push(s.intent.dst);
      done++;
      if (done % 64 === 0 || done === total) {
        ctx.onProgress?.({ phase: opts.phase === 'redo' ? 'apply' : opts.phase === 'undo' ? 'undo' : opts.phase, done, total });
      }
    };
    if (parallel === 1) {
      for (let k = 0; k < batch.length; k++) await runOne(k);
    } else {
      await pool(batch.map((_, k) => k), parallel, runOne);
    }
  }
  await ctx.fs.barrier(files, dirs);
  j.markOps(txnId, allSeqs, 'done', undefined, `${opts.phase} done`);
}
