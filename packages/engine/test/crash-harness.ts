/**
 * Crash harness: runs the real CLI in a child process, lets it SIGKILL itself at a chosen crash
 * point (CODEMATE_TXN_CRASH_AT), then runs `recover` in another child and checks the outcome:
 * the target is exactly the old or the new version (user files included), no staging or backup
 * is left, every transaction is final, and a further apply reaches the new version.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli, snapshotTree, makeTree, type TreeSpec, type CliResult } from '@codemate-txn/testkit';
import { Journal } from '@codemate-txn/journal';

export interface Scenario {
  name: string;
  /** Work dir; the target is <work>/inst/app, the template copy <work>/tmpl. */
  work: string;
  m1: string | null;
  m2: string;
  userFiles: TreeSpec;
  /** The journal elsewhere (--journal), e.g. off a FUSE mount that cannot hold SQLite's shared memory. */
  journal?: string;
}

export interface Outcome {
  ok: boolean;
  which: 'old' | 'new' | 'neither';
  problems: string[];
}

export const targetOf = (s: Scenario): string => path.join(s.work, 'inst', 'app');
const instOf = (s: Scenario): string => path.join(s.work, 'inst');
const tmplOf = (s: Scenario): string => path.join(s.work, 'tmpl');

const snap = (dir: string): string[] => (fs.existsSync(dir) ? snapshotTree(dir) : ['<absent>']);
/** --target, and --journal when the scenario keeps its journal elsewhere. */
const where = (s: Scenario): string[] => ['--target', targetOf(s), ...(s.journal ? ['--journal', s.journal] : [])];
const journalOf = (s: Scenario): string => s.journal ?? path.join(instOf(s), 'app.journal.db');
/** The journal's own files, for a journal kept outside the target's parent. */
const journalFiles = (s: Scenario): string[] => (s.journal ? ['', '-wal', '-shm', '.lock', '.lock.holder'].map((x) => s.journal + x) : []);

function mustCli(args: string[], env: Record<string, string> = {}): CliResult {
  const r = runCli(args, { env });
  if (r.code !== 0) throw new Error(`codemate-txn ${args.join(' ')} failed (${r.code}/${r.signal}): ${r.stderr}`);
  return r;
}

/** Installs v1 (if any) plus user files, and keeps a template copy of the whole parent dir. */
export function prepare(s: Scenario): void {
  fs.rmSync(instOf(s), { recursive: true, force: true });
  fs.rmSync(tmplOf(s), { recursive: true, force: true });
  fs.mkdirSync(instOf(s), { recursive: true });
  if (s.m1) {
    mustCli(['apply', s.m1, ...where(s), '--quiet']);
    makeTree(targetOf(s), s.userFiles);
  }
  fs.cpSync(instOf(s), tmplOf(s), { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  for (const f of journalFiles(s)) if (fs.existsSync(f)) fs.copyFileSync(f, `${f}.tmpl`);
}

/** Puts the target back to the template state (same absolute paths: the journal records them). */
export function restore(s: Scenario): void {
  fs.rmSync(instOf(s), { recursive: true, force: true });
  fs.cpSync(tmplOf(s), instOf(s), { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  for (const f of journalFiles(s)) {
    fs.rmSync(f, { force: true });
    if (fs.existsSync(`${f}.tmpl`)) fs.copyFileSync(`${f}.tmpl`, f);
  }
}

export interface Reference {
  oldSnap: string[];
  newSnap: string[];
  /** Labels of the crash points an uninterrupted apply passes, in order. */
  points: string[];
}

export function reference(s: Scenario): Reference {
  restore(s);
  const oldSnap = snap(targetOf(s));
  const out = path.join(s.work, 'points.txt');
  fs.rmSync(out, { force: true });
  mustCli(['apply', s.m2, ...where(s), '--quiet'], { CODEMATE_TXN_CRASHPOINTS_OUT: out });
  const newSnap = snap(targetOf(s));
  const points = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => l.split('\t')[1]!);
  return { oldSnap, newSnap, points };
}

/** Labels of the crash points `recover` passes after an apply killed at `applyPoint`. */
export function recoverPoints(s: Scenario, applyPoint: number): string[] {
  restore(s);
  runCli(['apply', s.m2, ...where(s), '--quiet'], { env: { CODEMATE_TXN_CRASH_AT: String(applyPoint) } });
  const out = path.join(s.work, 'rpoints.txt');
  fs.rmSync(out, { force: true });
  mustCli(['recover', ...where(s), '--quiet'], { CODEMATE_TXN_CRASHPOINTS_OUT: out });
  return fs.existsSync(out) ? fs.readFileSync(out, 'utf8').trim().split('\n').filter(Boolean).map((l) => l.split('\t')[1]!) : [];
}

/** Checks the state after recovery. */
export function check(s: Scenario, ref: Reference, recoverRc: CliResult): Outcome {
  const problems: string[] = [];
  if (recoverRc.code !== 0) problems.push(`recover exited ${recoverRc.code}/${recoverRc.signal}: ${recoverRc.stderr.trim()}`);
  const now = snap(targetOf(s));
  const which = eq(now, ref.oldSnap) ? 'old' : eq(now, ref.newSnap) ? 'new' : 'neither';
  if (which === 'neither') problems.push(`target is neither old nor new:\n  ${diff(now, ref.oldSnap, ref.newSnap).join('\n  ')}`);
  const left = fs.readdirSync(instOf(s)).filter((n) => !['app', 'app.journal.db', 'app.journal.db.lock', 'app.journal.db.lock.holder', 'app.journal.db-wal', 'app.journal.db-shm'].includes(n));
  if (left.length) problems.push(`leftovers beside the target: ${left.join(', ')}`);
  const jpath = journalOf(s);
  if (fs.existsSync(jpath)) {
    const j = Journal.open(jpath, { readonly: true });
    const open = j.interruptedTxns();
    j.close();
    if (open.length) problems.push(`transactions not final: ${open.map((t) => `${t.id}:${t.state}`).join(', ')}`);
  }
  return { ok: problems.length === 0, which, problems };
}

/** After recovery, a plain apply must reach the new version. */
export function applyAgainReachesNew(s: Scenario, ref: Reference): string | undefined {
  const r = runCli(['apply', s.m2, ...where(s), '--quiet']);
  if (r.code !== 0) return `apply after recover exited ${r.code}: ${r.stderr.trim()}`;
  if (!eq(snap(targetOf(s)), ref.newSnap)) return 'apply after recover did not reach the new version';
  return undefined;
}

/** Kill apply at crash point i, recover, check. */
export function crashAt(s: Scenario, ref: Reference, i: number, opts: { recoverCrashAt?: number; applyAgain?: boolean; forward?: boolean } = {}): Outcome {
  restore(s);
  const a = runCli(['apply', s.m2, ...where(s), '--quiet'], { env: { CODEMATE_TXN_CRASH_AT: String(i) } });
  const problems: string[] = [];
  if (a.signal !== 'SIGKILL') problems.push(`apply was expected to die at crash point ${i} but exited ${a.code}`);
  if (opts.recoverCrashAt !== undefined) {
    const r1 = runCli(['recover', ...where(s), '--quiet'], { env: { CODEMATE_TXN_CRASH_AT: String(opts.recoverCrashAt) } });
    if (r1.signal !== 'SIGKILL') problems.push(`recover was expected to die at its crash point ${opts.recoverCrashAt} but exited ${r1.code}`);
  }
  const r = runCli(['recover', ...(opts.forward ? ['--forward'] : []), ...where(s), '--quiet']);
  const out = check(s, ref, r);
  out.problems.unshift(...problems);
  if (opts.applyAgain) {
    const again = applyAgainReachesNew(s, ref);
    if (again) out.problems.push(again);
  }
  out.ok = out.problems.length === 0;
  return out;
}

function eq(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function diff(now: string[], old: string[], neu: string[]): string[] {
  const o = new Set(old);
  const n = new Set(neu);
  const out: string[] = [];
  for (const l of now) if (!o.has(l) && !n.has(l)) out.push(`+ ${l}`);
  for (const l of old) if (!now.includes(l) && !n.has(l)) out.push(`- (old) ${l}`);
  return out.slice(0, 20);
}

/** Which crash points to try: all of them with CODEMATE_TXN_FULL_MATRIX=1, else a spread sample. */
export function sample(k: number, must: number[] = []): number[] {
  if (process.env.CODEMATE_TXN_FULL_MATRIX === '1') return Array.from({ length: k }, (_, i) => i + 1);
  const step = Math.max(1, Math.ceil(k / 10));
  const set = new Set<number>(must.filter((m) => m >= 1 && m <= k));
  for (let i = 1; i <= k; i += step) set.add(i);
  set.add(k);
  return [...set].sort((a, b) => a - b);
}
