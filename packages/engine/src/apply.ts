/**
 * apply: the transaction of DESIGN §5. Phase table (each phase states its undo):
 *
 *   phase     does                                             undo
 *   begin     lock, recover leftovers, record txn + plan       -
 *   stage     build <name>.staging, verify every byte          remove staging (target untouched)
 *   apply     back up replaced/removed paths (rename), mkdir,  rename back / rmdir / chmod back,
 *             place staged paths (rename), chmod, version file newest first
 *   commit    installed set + state 'committed' in one SQLite transaction   ← point of no return
 *   cleanup   remove backup (unless --keep-backup) and staging  none needed: finished by any later run
 */
import * as fsNode from 'node:fs';
import * as path from 'node:path';
// Only the function used: the whole semver package costs ~10 ms of every start.
import semverCompare from 'semver/functions/compare';
import {
  TxnError,
  VERSION_FILE,
  backupDirName,
  errorMessage,
  isTxnError,
  relAncestors,
  targetLayout,
  under,
  type LoadedManifest,
  type ManifestEntry,
  type TargetLayout,
  type TxnKind,
} from '@codemate-txn/core';
import { DEFAULT_PRESERVE, makePreserveMatcher } from '@codemate-txn/manifest';
import { hashFile } from '@codemate-txn/fsops';
import { Journal, type OpIntent, type PlannedFile, type StatCacheRow } from '@codemate-txn/journal';
import { openForWrite } from './open.js';
import { computePlan, isEmptyPlan, scanTarget, type Plan, type TargetScan } from '@codemate-txn/plan';
import { defaultContext, type EngineContext } from './context.js';
import { checkInterrupted, runSteps, yieldToEventLoop, type Step } from './steps.js';
import { stageSteps, stagedPathOf } from './stage.js';
import { undoTxn } from './undo.js';
import { changedPaths, fingerprintOf, gainedEntries, installedByTxn, preserveFingerprint, walkPreserved } from './fingerprint.js';
import { cleanupTxn, recoverPending, resumeDirFor, type RecoverSummary } from './recover.js';

export interface ApplyOptions {
  target: string;
  journal?: string;
  keepBackup?: boolean;
  allowDowngrade?: boolean;
  repair?: boolean;
  /** Extra preserve patterns (added to the defaults and the manifest's). */
  preserve?: string[];
  /** Refuse (exit 3) instead of recovering an interrupted transaction first. */
  noRecover?: boolean;
  /** Wait this long for the lock before giving up (exit 4). */
  waitSeconds?: number;
}

export interface ApplyCounts {
  installed: number;
  replaced: number;
  removed: number;
  unchanged: number;
  preserved: number;
  chmod: number;
}

export interface ApplyResult {
  ok: true;
  txnId: number | null;
  kind: TxnKind | 'noop';
  app: string;
  fromVersion: string | null;
  toVersion: string;
  target: string;
  counts: ApplyCounts;
  bytesStaged: number;
  filesStaged: number;
  durationsMs: { plan: number; stage: number; apply: number; cleanup: number; total: number };
  /** Interrupted transactions this run recovered before starting. */
  recovered: RecoverSummary[];
  /** Cleanup failed after the commit point; the next run finishes it. */
  cleanupPending: boolean;
  backupDir: string | null;
  warnings: string[];
  /** What it cost: filesystem mutations, fsyncs (file and directory), durable journal commits. */
  stats: { mutations: number; fileFsyncs: number; dirFsyncs: number; syncfs: number; journalCommits: number; journalMs: number };
  /** Files whose content was hashed to compare, and those known unchanged from the stat cache. */
  hashed: { hashed: number; fromStatCache: number };
  /** Files taken from the downloads an interrupted apply kept, instead of downloading them again. */
  resumed: number;
}

export interface DryRunResult {
  dryRun: true;
  kind: TxnKind | 'noop';
  app: string;
  fromVersion: string | null;
  toVersion: string;
  target: string;
  counts: ApplyCounts;
  bytesToStage: number;
  /** An interrupted transaction that a real run would recover first. */
  wouldRecover: number[];
  paths: { install: string[]; replace: string[]; delete: string[]; unchanged: string[]; preserved: string[]; chmod: string[] };
}

const ZERO_COUNTS: ApplyCounts = { installed: 0, replaced: 0, removed: 0, unchanged: 0, preserved: 0, chmod: 0 };

function preserveFor(loaded: LoadedManifest, extra: string[] | undefined) {
  return makePreserveMatcher([...DEFAULT_PRESERVE, ...loaded.manifest.preserve, ...(extra ?? [])]);
}

interface Decision {
  kind: TxnKind | 'noop';
  fromVersion: string | null;
}

/**
 * The preserve rules plus the paths the user owns, with answers remembered: the fingerprint walks
 * ask about every path in the target twice, and the plan about every manifest path and its parents.
 */
function memoPreserver(base: { isPreserved(rel: string, isDir: boolean): boolean }, userOwned: ReadonlySet<string>) {
  const seen = [new Map<string, boolean>(), new Map<string, boolean>()];
  return {
    isPreserved(rel: string, isDir: boolean): boolean {
      const m = seen[isDir ? 1 : 0]!;
      let v = m.get(rel);
      if (v === undefined) {
        v = base.isPreserved(rel, isDir) || userOwned.has(rel);
        m.set(rel, v);
      }
      return v;
    },
  };
}

/** The preserved files before anything changes; one that cannot be read stops the apply (exit 1), nothing changed yet. */
function walkBeforeChanges(target: string, preserve: { isPreserved(rel: string, isDir: boolean): boolean }): ReturnType<typeof walkPreserved> {
  try {
    return walkPreserved(target, preserve);
  } catch (e: unknown) {
    if (isTxnError(e)) throw e;
    const errno = (e as { code?: string }).code;
    throw new TxnError('E_FS', `cannot read the target's preserved files to fingerprint them (the proof that the update leaves them alone): ${errorMessage(e)}`, {
      hint: 'nothing was changed; make the preserved files readable by the user running codemate-txn (or run it as their owner), then retry',
      cause: e,
      details: { errno },
    });
  }
}

/**
 * A journal records one target. Given with --journal for a second one, its history would make the
 * new target look installed (a no-op on an empty directory) or recover the other target's files.
 */
function checkJournalTarget(j: Journal, layout: TargetLayout): void {
  const last = j.lastTxn();
  if (last === undefined || last.target === layout.target) return;
  throw new TxnError('E_TARGET_INVALID', `the journal ${layout.journal} records the target ${last.target}, not ${layout.target}; a journal serves one target`, {
    hint: `give this target its own journal (leave out --journal, or pass another file), or use --target ${last.target}; nothing was changed`,
    details: { journal: layout.journal, journalTarget: last.target, target: layout.target },
  });
}

/** Version rules of DESIGN §4: same → noop (unless repair), older → refused (unless allowed). */
function decide(loaded: LoadedManifest, installed: { app: string; version: string } | undefined, targetExists: boolean, opts: ApplyOptions): Decision {
  const m = loaded.manifest;
  if (!installed || !targetExists) return { kind: 'install', fromVersion: null };
  if (installed.app !== m.app) {
    throw new TxnError('E_APP_MISMATCH', `the target holds app "${installed.app}" ${installed.version}; the manifest is for app "${m.app}"`, {
      hint: 'use a different --target for a different app',
    });
  }
  const cmp = semverCompare(m.version, installed.version);
  if (cmp === 0) return { kind: opts.repair ? 'repair' : 'noop', fromVersion: installed.version };
  if (cmp < 0) {
    if (!opts.allowDowngrade) {
      throw new TxnError('E_VERSION_DOWNGRADE', `refusing to downgrade ${m.app} from ${installed.version} to ${m.version}: the manifest is older than what is installed`, {
        hint: 'pass --allow-downgrade if you really mean to go back (downgrades can reintroduce fixed vulnerabilities)',
        details: { installed: installed.version, manifest: m.version },
      });
    }
    return { kind: 'downgrade', fromVersion: installed.version };
  }
  return { kind: 'update', fromVersion: installed.version };
}

/** Directories a fresh root stages: dir entries with their modes, and every ancestor (0755). */
function freshRootDirs(files: readonly ManifestEntry[]): Array<{ path: string; mode: number }> {
  const dirs = new Map<string, number>();
  for (const e of files) {
    for (const a of relAncestors(e.path)) if (!dirs.has(a)) dirs.set(a, 0o755);
    if (e.type === 'dir') dirs.set(e.path, e.mode);
  }
  return [...dirs.entries()].map(([p, mode]) => ({ path: p, mode }));
}

/**
 * Downloads an interrupted apply kept in <name>.staging.resume (see undo: keep-for-resume), each
 * verified again by hash now: sha256 → file. Only files that verify are offered.
 */
async function resumableDownloads(j: Journal, layout: TargetLayout): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!targetExists(layout.stagingResume)) return out;
  for (const t of j.listTxns({ state: 'rolled_back', limit: 5 })) {
    const ops = j.ops(t.id);
    if (!ops.some((o) => o.action === 'keep-for-resume' && o.dst === layout.stagingResume)) continue;
    for (const o of ops) {
      if (o.phase !== 'stage' || o.kind !== 'write' || !o.sha256 || !o.dst || !/^https?:/.test(o.src ?? '')) continue;
      const kept = path.join(layout.stagingResume, path.relative(t.stagingDir, o.dst));
      const h = await hashFile(kept).catch(() => undefined);
      if (h && h.sha256 === o.sha256 && h.size === o.size) out.set(o.sha256, kept);
    }
    break;
  }
  return out;
}

/** Ancestors of dir (itself included) that do not exist, outermost first. */
function missingAncestors(dir: string): string[] {
  const out: string[] = [];
  for (let d = dir; !targetExists(d); d = path.dirname(d)) {
    out.unshift(d);
    if (path.dirname(d) === d) break;
  }
  return out;
}

function targetExists(t: string): boolean {
  try {
    fsNode.lstatSync(t);
    return true;
  } catch {
    return false;
  }
}

/** --dry-run: the plan, computed from the journal (read-only) and the tree; writes nothing. */
export async function planApply(loaded: LoadedManifest, opts: ApplyOptions, ctx: EngineContext = defaultContext()): Promise<DryRunResult> {
  const layout = targetLayout(opts.target, opts.journal);
  let j: Journal | undefined;
  if (fsNode.existsSync(layout.journal)) j = Journal.open(layout.journal, { peek: true });
  try {
    const installedV = j?.installedVersion();
    const wouldRecover = j ? j.interruptedTxns().map((t) => t.id) : [];
    if (j) checkJournalTarget(j, layout);
    const d = decide(loaded, installedV, targetExists(layout.target), opts);
    const base = { dryRun: true as const, app: loaded.manifest.app, fromVersion: d.fromVersion, toVersion: loaded.manifest.version, target: layout.target, wouldRecover };
    if (d.kind === 'noop') {
      return { ...base, kind: 'noop', counts: { ...ZERO_COUNTS }, bytesToStage: 0, paths: { install: [], replace: [], delete: [], unchanged: [], preserved: [], chmod: [] } };
    }
    const installed = d.fromVersion === null ? [] : j?.installedFiles() ?? [];
    const scan = await scanTarget(ctx.fs, layout.target, loaded.manifest, installed, ctx.concurrency);
    const plan = computePlan({ manifest: loaded.manifest, installedVersion: d.fromVersion, installed, scan, preserve: preserveFor(loaded, opts.preserve), kind: d.kind });
    const by = (a: string) => plan.entries.filter((e) => e.action === a).map((e) => e.path);
    return {
      ...base,
      kind: d.kind === 'repair' && isEmptyPlan(plan) ? 'noop' : d.kind,
      counts: plan.counts,
      bytesToStage: plan.bytesToStage,
      paths: {
        install: [...by('install'), ...by('preserved-install')],
        replace: by('replace'),
        delete: plan.removed,
        unchanged: by('unchanged'),
        preserved: by('preserved'),
        chmod: by('chmod'),
      },
    };
  } finally {
    j?.close();
  }
}

/** The plan's rows for the journal, made as they are written. */
function* plannedFiles(plan: Plan): Generator<PlannedFile> {
  for (const pe of plan.entries) {
    const e = pe.entry;
    yield {
      path: e.path,
      type: e.type,
      sha256: e.type === 'file' ? e.sha256 : null,
      size: e.type === 'file' ? e.size : null,
      mode: e.type === 'symlink' ? null : e.mode,
      linkTarget: e.type === 'symlink' ? e.target : null,
      action: pe.action,
      managed: pe.managed,
    };
  }
}

/**
 * Placement and backup are renames, which cannot cross filesystems (EXDEV). Staging and backup
 * live in the target's parent, so a target that is itself a mount point is refused here, before
 * anything changes, rather than half-applied or silently copied.
 */
function checkSameFilesystem(layout: TargetLayout): void {
  let tdev: number;
  let pdev: number;
  try {
    tdev = fsNode.statSync(layout.target).dev;
    pdev = fsNode.statSync(layout.parent).dev;
  } catch {
    return; // a missing target is created by a rename inside the parent: same filesystem
  }
  if (tdev !== pdev) {
    throw new TxnError('E_TARGET_INVALID', `the target ${layout.target} is on a different filesystem than its parent ${layout.parent}; staging and backup must be on the target's filesystem so that every placement is an atomic rename (EXDEV)`, {
      hint: 'install into a directory below the mount point (e.g. --target <mount>/app), so staging and backup land on the same filesystem',
      details: { targetDev: tdev, parentDev: pdev },
    });
  }
}

/**
 * After a commit: remember each installed file's stat with its (verified) hash, so the next update
 * need not rehash files that did not change. Files the transaction did not touch keep the stat the
 * scan saw (its hash was verified against the manifest); only placed files are stat'ed again, and
 * only rows that differ from the cache loaded for the scan are written. A cache: failures only
 * cost a rehash next time.
 */
function saveStatCache(j: Journal, target: string, plan: Plan, scan: TargetScan, prev: ReadonlyMap<string, StatCacheRow>): void {
  const next = new Map<string, StatCacheRow>();
  try {
    for (const pe of plan.entries) {
      if (!pe.managed || pe.entry.type !== 'file') continue;
      const e = pe.entry;
      const s = pe.action === 'unchanged' ? scan.states.get(pe.path) : undefined;
      if (s !== undefined && s.type === 'file' && s.sha256 === e.sha256 && s.size === e.size) {
        next.set(pe.path, { size: s.size, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs, ino: s.ino, sha256: e.sha256 });
        continue;
      }
      const st = fsNode.lstatSync(under(target, pe.path), { throwIfNoEntry: false });
      if (!st || !st.isFile() || st.size !== e.size) continue;
      next.set(pe.path, { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, sha256: e.sha256 });
    }
    j.updateStatCache(prev, next);
  } catch {
    // a cache: the next update rehashes
  }
}

/** Room to spare beyond the bytes to stage: journal rows and directory blocks per file, 2%, 64 KiB. */
const SPACE_MARGIN = (bytes: number, files: number): number => Math.ceil(bytes * 0.02) + files * 1024 + 64 * 1024;

/** Free-space preflight: refuse before staging anything when the declared bytes cannot fit. */
function checkFreeSpace(layout: TargetLayout, plan: Plan): void {
  if (plan.bytesToStage === 0) return;
  let free: number;
  try {
    const st = fsNode.statfsSync(fsNode.existsSync(layout.target) ? layout.target : layout.parent);
    free = st.bavail * st.bsize;
  } catch {
    return; // no statfs here: the staging writes themselves will tell
  }
  const needed = plan.bytesToStage + SPACE_MARGIN(plan.bytesToStage, plan.stage.length);
  if (needed > free) {
    throw new TxnError('E_NO_SPACE', `not enough free space to stage ${plan.app} ${plan.toVersion} in ${layout.parent}: needed ${needed} bytes (${plan.bytesToStage} to stage plus margin), available ${free}`, {
      hint: 'free some space on that filesystem and retry; nothing was changed',
      details: { needed, available: free, bytesToStage: plan.bytesToStage },
    });
  }
}

/** A free backup directory name: backup_staging_<from>, or with a numeric suffix when taken. */
function chooseBackupDir(layout: TargetLayout, fromVersion: string | null): string {
  for (let i = 0; ; i++) {
    const p = path.join(layout.backupApp, backupDirName(fromVersion, i));
    if (!targetExists(p)) return p;
  }
}

/** Steps that create a directory chain that may partly exist (outermost first). */
function mkdirChain(ctx: EngineContext, dirs: Array<{ dir: string; undo: 'rmdir' | 'rmtree' | 'none'; mode: number; action: string }>): Step[] {
  const steps: Step[] = [];
  for (const d of dirs) {
    if (targetExists(d.dir)) continue;
    steps.push({
      intent: { phase: 'apply', kind: 'mkdir', action: d.action, path: '', dst: d.dir, ftype: 'dir', mode: d.mode, undo: d.undo },
      run: () => ctx.fs.mkdir(d.dir, d.mode),
    });
  }
  return steps;
}

/**
 * The ordered apply steps for a plan (DESIGN §5.3). Directories moved to the backup whole are added
 * to movedDirs (path and where it goes), so what they hold can be checked before the commit point.
 */
function applySteps(ctx: EngineContext, layout: TargetLayout, plan: Plan, backupDir: string, keepBackup: boolean, staged: (rel: string) => string, movedDirs: Array<{ rel: string; dst: string }>): Step[] {
  const fs = ctx.fs;
  const T = layout.target;
  const S = layout.staging;
  const known = new Set<string>();
  const guard = (p: string) => fs.assertRealParents(T, p, known);
  const steps: Step[] = [];

  if (plan.freshRoot) {
    steps.push({
      intent: { phase: 'apply', kind: 'chmod', action: 'root-mode', path: '', dst: S, ftype: 'dir', mode: 0o755, oldMode: 0o700, undo: 'chmod-back' },
      run: () => fs.chmod(S, 0o755),
    });
    steps.push({
      intent: { phase: 'apply', kind: 'rename', action: 'place-root', path: '', src: S, dst: T, ftype: 'dir', undo: 'rename-back' },
      run: () => fs.rename(S, T),
    });
    return steps;
  }

  const versionExists = targetExists(under(T, VERSION_FILE));
  const original = path.join(backupDir, 'original');
  if (plan.backups.length > 0 || versionExists) {
    steps.push(...mkdirChain(ctx, [
      { dir: layout.backupRoot, undo: 'rmdir', mode: 0o700, action: 'backup-root' },
      { dir: layout.backupApp, undo: 'rmdir', mode: 0o700, action: 'backup-root' },
      { dir: backupDir, undo: 'rmtree', mode: 0o700, action: 'backup-root' },
    ]));
    steps.push({
      intent: { phase: 'apply', kind: 'mkdir', action: 'backup-root', path: '', dst: original, ftype: 'dir', mode: 0o700, undo: 'none' },
      run: () => fs.mkdir(original, 0o700),
    });
  }
  const backupDirsMade = new Set<string>();
  let flat = 0;
  const backupStep = (rel: string, ftype: OpIntent['ftype'], action: string): void => {
    const src = under(T, rel);
    if (!keepBackup) {
      // A backup nobody keeps is flat (original/0000001…): no directory tree to create, fsync and
      // remove again. The journal records where each path went; undo reads it from there.
      const dst = path.join(original, String(++flat).padStart(7, '0'));
      if (ftype === 'dir') movedDirs.push({ rel, dst });
      steps.push({
        intent: { phase: 'apply', kind: 'rename', action, path: rel, src, dst, ftype, undo: 'rename-back' },
        run: () => {
          guard(src);
          fs.rename(src, dst);
        },
      });
      return;
    }
    for (const a of relAncestors(rel)) {
      if (backupDirsMade.has(a)) continue;
      backupDirsMade.add(a);
      const dst = under(original, a);
      steps.push({
        intent: { phase: 'apply', kind: 'mkdir', action: 'backup-dir', path: a, dst, ftype: 'dir', mode: 0o700, undo: 'none' },
        run: () => fs.mkdir(dst, 0o700),
      });
    }
    const dst = under(original, rel);
    if (ftype === 'dir') movedDirs.push({ rel, dst });
    steps.push({
      intent: { phase: 'apply', kind: 'rename', action, path: rel, src, dst, ftype, undo: 'rename-back' },
      run: () => {
        guard(src);
        fs.rename(src, dst);
      },
    });
  };
  for (const b of plan.backups) backupStep(b.path, b.ftype === 'other' ? 'file' : b.ftype, b.reason === 'remove' || b.reason === 'empty-dir' ? 'remove' : 'backup');
  for (const m of plan.mkdirs) {
    const dst = under(T, m.path);
    steps.push({
      intent: { phase: 'apply', kind: 'mkdir', action: 'mkdir', path: m.path, dst, ftype: 'dir', mode: m.mode, undo: 'rmdir' },
      run: () => {
        guard(dst);
        fs.mkdir(dst, m.mode);
      },
    });
  }
  const entryOf = new Map(plan.entries.map((e) => [e.path, e]));
  for (const rel of plan.places) {
    const pe = entryOf.get(rel)!;
    const e = pe.entry;
    const src = staged(rel);
    const dst = under(T, rel);
    steps.push({
      intent: {
        phase: 'apply', kind: 'rename', action: pe.action === 'replace' ? 'replace' : 'install', path: rel, src, dst, ftype: e.type,
        size: e.type === 'file' ? e.size : null, sha256: e.type === 'file' ? e.sha256 : null,
        mode: e.type === 'symlink' ? null : e.mode, linkTarget: e.type === 'symlink' ? e.target : null, undo: 'rename-back',
      },
      run: () => {
        guard(dst);
        fs.rename(src, dst);
      },
    });
  }
  for (const c of plan.chmods) {
    const dst = under(T, c.path);
    steps.push({
      intent: { phase: 'apply', kind: 'chmod', action: 'chmod', path: c.path, dst, mode: c.to, oldMode: c.from, undo: 'chmod-back' },
      run: () => {
        guard(dst);
        fs.chmod(dst, c.to);
      },
    });
  }
  // The version file last, just before the commit point.
  if (versionExists) backupStep(VERSION_FILE, 'file', 'backup');
  const vsrc = under(S, VERSION_FILE);
  const vdst = under(T, VERSION_FILE);
  steps.push({
    intent: { phase: 'apply', kind: 'rename', action: 'version', path: VERSION_FILE, src: vsrc, dst: vdst, ftype: 'file', undo: 'rename-back' },
    run: () => fs.rename(vsrc, vdst),
  });
  return steps;
}

/**
 * Installs or updates the target from a loaded manifest. Throws TxnError (exit code by its code);
 * on any failure before the commit point the target is restored exactly and the journal says
 * 'rolled_back'.
 */
export async function apply(loaded: LoadedManifest, opts: ApplyOptions, ctx: EngineContext = defaultContext()): Promise<ApplyResult> {
  const t0 = Date.now();
  const layout = targetLayout(opts.target, opts.journal);
  const { j, lock } = openForWrite(layout, ctx, opts.waitSeconds ?? 0, 'apply');
  try {
    const recovered = await recoverPending(j, ctx, layout, { noRecover: opts.noRecover === true, by: 'apply' });
    return await applyLocked(loaded, opts, ctx, j, layout, recovered, t0);
  } finally {
    try {
      j.close();
    } finally {
      lock.release();
    }
  }
}

async function applyLocked(
  loaded: LoadedManifest,
  opts: ApplyOptions,
  ctx: EngineContext,
  j: Journal,
  layout: TargetLayout,
  recovered: RecoverSummary[],
  t0: number,
): Promise<ApplyResult> {
  const m = loaded.manifest;
  checkJournalTarget(j, layout);
  const d = decide(loaded, j.installedVersion(), targetExists(layout.target), opts);
  const result: ApplyResult = {
    ok: true, txnId: null, kind: d.kind, app: m.app, fromVersion: d.fromVersion, toVersion: m.version, target: layout.target,
    counts: { ...ZERO_COUNTS }, bytesStaged: 0, filesStaged: 0,
    durationsMs: { plan: 0, stage: 0, apply: 0, cleanup: 0, total: 0 },
    recovered, cleanupPending: false, backupDir: null, warnings: [], stats: { ...ctx.fs.stats, journalMs: 0 }, hashed: { hashed: 0, fromStatCache: 0 }, resumed: 0,
  };
  if (d.kind === 'noop') {
    result.durationsMs.total = Date.now() - t0;
    return result;
  }
  const installed = d.fromVersion === null ? [] : j.installedFiles();
  const statCache = j.statCache();
  // Paths that were preserved the last time are the user's from then on, even if the pattern
  // that preserved them (a --preserve flag) is not given again.
  const userOwned = d.fromVersion === null ? new Set<string>() : j.userOwnedPaths();
  const preserve = memoPreserver(preserveFor(loaded, opts.preserve), userOwned);
  // The preserved files as they are before anything changes (one walk of the whole target, whose
  // directory listings the scan then reuses instead of reading them again).
  const walkBefore = walkBeforeChanges(layout.target, preserve);
  const scan = await scanTarget(ctx.fs, layout.target, m, installed, ctx.concurrency, statCache, walkBefore.listings);
  result.hashed = { hashed: scan.hashed, fromStatCache: scan.cached };
  const plan = computePlan({ manifest: m, installedVersion: d.fromVersion, installed, scan, preserve, kind: d.kind });
  result.counts = plan.counts;
  const tPlan = Date.now();
  result.durationsMs.plan = tPlan - t0;
  if (d.kind === 'repair' && isEmptyPlan(plan)) {
    result.kind = 'noop';
    result.durationsMs.total = Date.now() - t0;
    return result;
  }

  // Files the engine never installed that were in the way are backed up and replaced (DESIGN §4);
  // their backup is kept, mirrored, and named in a warning: they may be someone's work.
  const collisions = plan.backups.filter((b) => b.reason === 'collision').map((b) => b.path);
  const keepBackup = opts.keepBackup === true || collisions.length > 0;
  checkSameFilesystem(layout);
  checkFreeSpace(layout, plan);
  const backupDir = chooseBackupDir(layout, d.fromVersion);
  const txnId = j.beginTxn(
    {
      kind: d.kind as TxnKind, app: m.app, fromVersion: d.fromVersion, toVersion: m.version, target: layout.target,
      stagingDir: layout.staging, backupDir, keepBackup, manifestSha256: loaded.sha256,
      manifestSource: loaded.location, pid: ctx.pid, host: ctx.host, user: ctx.user, toolVersion: ctx.toolVersion,
    },
    plannedFiles(plan),
  );
  result.txnId = txnId;

  let committed = false;
  try {
    // Stage. A staging directory no journaled transaction owns is debris from outside: removed, journaled.
    const pre: Step[] = [];
    if (targetExists(layout.staging)) {
      pre.push({
        intent: { phase: 'stage', kind: 'rmtree', action: 'remove-debris', path: '', dst: layout.staging, undo: 'none' },
        run: () => ctx.fs.rmTree(layout.staging),
      });
    }
    const flatNames = plan.freshRoot ? undefined : new Map(plan.stage.map((e, i) => [e.path, String(i + 1).padStart(7, '0')]));
    const stageInput = { staging: layout.staging, flatNames };
    const resume = await resumableDownloads(j, layout);
    result.resumed = resume.size;
    const sSteps = stageSteps(ctx, {
      flatNames,
      resume,
      staging: layout.staging,
      sourceBase: loaded.sourceBase,
      entries: plan.stage,
      versionText: `${m.version}\n`,
      dirEntries: plan.freshRoot ? freshRootDirs(m.files) : [],
    });
    // The target's parent may be missing when the journal lives elsewhere: one journaled mkdir per level.
    const parents: Step[] = missingAncestors(layout.parent).map((dir) => ({
      intent: { phase: 'stage', kind: 'mkdir', action: 'target-parent', path: '', dst: dir, ftype: 'dir', mode: 0o755, undo: 'rmdir' },
      run: () => ctx.fs.mkdir(dir, 0o755),
    }));
    // Directories first, one at a time; then the file copies in parallel.
    // The preserved files' fingerprint, before anything changes (recorded as a no-op journal row).
    // Paths this transaction creates where nothing was are not the user's: a link the release adds
    // may match a preserve pattern once placed (`x/logs -> .` is a link to a directory).
    const fpExclude = installedByTxn(plan.entries.filter((e) => e.action === 'install' || e.action === 'preserved-install').map((e) => e.path));
    const fpBefore = fingerprintOf(walkBefore, fpExclude);
    const fpStep: Step = {
      intent: { phase: 'stage', kind: 'fingerprint', action: 'preserve-before', path: '', sha256: fpBefore.sha256, size: fpBefore.count, undo: 'none' },
      run: () => {},
    };
    await runSteps(j, ctx, txnId, [fpStep, ...pre, ...parents, ...sSteps.dirs], { phase: 'stage', batchSize: 4096 });
    await runSteps(j, ctx, txnId, sSteps.files, { phase: 'stage', parallel: ctx.concurrency ?? 8, batchSize: 4096, total: sSteps.fileCount });
    if (targetExists(layout.stagingResume)) {
      await runSteps(j, ctx, txnId, [{
        intent: { phase: 'stage', kind: 'rmtree', action: 'remove-resume', path: '', dst: layout.stagingResume, undo: 'none' },
        run: () => ctx.fs.rmTree(layout.stagingResume),
      }], { phase: 'stage' });
    }
    result.filesStaged = plan.stage.length;
    result.bytesStaged = plan.bytesToStage;
    const tStage = Date.now();
    result.durationsMs.stage = tStage - tPlan;

    // Apply.
    j.setState(txnId, 'applying');
    // All apply intents in one commit: recover --forward needs the whole plan or nothing.
    const movedDirs: Array<{ rel: string; dst: string }> = [];
    await runSteps(j, ctx, txnId, applySteps(ctx, layout, plan, backupDir, keepBackup, (rel) => stagedPathOf(stageInput, rel), movedDirs), { phase: 'apply', batchSize: Number.MAX_SAFE_INTEGER });
    ctx.fs.fsyncDir(layout.parent);
    // A directory the update removes went to the backup whole, because the plan saw nothing of the
    // user's in it; anything that appeared there since would be deleted with the backup.
    const gained = gainedEntries(movedDirs, walkBefore.listings);

    // The preserved files must be exactly as they were: the engine's own proof it never touched them.
    // A fresh root is the staging tree renamed into place where nothing was: no path in it can be
    // the user's, so there is nothing to walk (the rename would have failed had anything been there).
    const fpAfter = plan.freshRoot ? fpBefore : preserveFingerprint(layout.target, preserve, fpExclude);
    await runSteps(j, ctx, txnId, [{
      intent: { phase: 'apply', kind: 'fingerprint', action: 'preserve-after', path: '', sha256: fpAfter.sha256, size: fpAfter.count, undo: 'none' },
      run: () => {
        if (gained.length > 0) {
          const shown = gained.slice(0, 10).join(', ') + (gained.length > 10 ? `, … (${gained.length - 10} more)` : '');
          throw new TxnError('E_PRESERVE_CHANGED', `files appeared during the transaction in directories this update removes: ${shown}; they are not the engine's, so the directories are not removed`, {
            hint: 'something (the app itself, if it is running) wrote there while the update ran; the update was rolled back and those files are where they were: stop what writes there, move the files out if the new version should not keep the directory, then retry',
            details: { appeared: gained },
          });
        }
        if (fpAfter.sha256 !== fpBefore.sha256) {
          const changed = changedPaths(fpBefore, fpAfter);
          const shown = changed.slice(0, 10).join(', ') + (changed.length > 10 ? `, … (${changed.length - 10} more)` : '');
          throw new TxnError('E_PRESERVE_CHANGED', `preserved files changed during the transaction: ${shown}; expected fingerprint ${fpBefore.sha256} (${fpBefore.count} paths), found ${fpAfter.sha256} (${fpAfter.count} paths)`, {
            hint: 'something (the app itself, if it is running) wrote to those preserved files while the update ran; the update was rolled back: stop what writes there (or leave it out of the preserve patterns), then retry',
            details: { changed, before: { sha256: fpBefore.sha256, count: fpBefore.count }, after: { sha256: fpAfter.sha256, count: fpAfter.count } },
          });
        }
      },
    }], { phase: 'apply' });

    // A signal that arrived during the last steps still rolls back: this is the last chance.
    await yieldToEventLoop();
    checkInterrupted(ctx);

    // Commit point.
    j.commitTxn(txnId);
    committed = true;
    const tApply = Date.now();
    result.durationsMs.apply = tApply - tStage;

    // Cleanup: after the commit point a failure only leaves work for the next run.
    try {
      const kept = await cleanupTxn(j, ctx, txnId);
      if (kept) result.backupDir = kept;
      if (kept && collisions.length > 0) {
        const shown = collisions.slice(0, 10).join(', ') + (collisions.length > 10 ? `, … (${collisions.length - 10} more)` : '');
        result.warnings.push(`${collisions.length} file(s) the engine did not install were in the way and were replaced; they are kept in ${path.join(kept, 'original')}: ${shown}`);
      }
    } catch (e: unknown) {
      result.cleanupPending = true;
      result.warnings.push(`updated to ${m.version}, but cleanup failed (${errorMessage(e)}); the next codemate-txn run finishes it`);
    }
    saveStatCache(j, layout.target, plan, scan, statCache);
    result.durationsMs.cleanup = Date.now() - tApply;
    result.durationsMs.total = Date.now() - t0;
    result.stats = { ...ctx.fs.stats, journalMs: Math.round(j.commitMs) };
    return result;
  } catch (e: unknown) {
    if (committed) throw e;
    throw await rollback(j, ctx, txnId, e);
  }
}

/** Rolls back after a failure before the commit point; returns the error to throw. */
async function rollback(j: Journal, ctx: EngineContext, txnId: number, first: unknown): Promise<TxnError> {
  const err = isTxnError(first)
    ? first
    : new TxnError('E_FS', `${errorMessage(first)}`, { cause: first, details: { errno: (first as { code?: string }).code } });
  try {
    const t = j.getTxn(txnId)!;
    // Interrupted by a signal while downloading: keep the verified downloads for the next apply.
    const resumeDir = err.code === 'E_SIGNAL' ? resumeDirFor(j, txnId, t.state, t.stagingDir) : undefined;
    j.setState(txnId, 'rolling_back', { error: err.message, errorCode: err.code });
    await undoTxn(j, ctx, txnId, { resumeDir });
    j.setState(txnId, 'rolled_back');
  } catch (e2: unknown) {
    return new TxnError('E_ROLLBACK_INCOMPLETE', `${err.message}; then rollback failed too: ${errorMessage(e2)}`, {
      hint: 'run codemate-txn recover to finish restoring the target',
      cause: err,
      details: { first: err.code, txnId },
    });
  }
  const hint = err.code === 'E_SIGNAL' ? 'the target is unchanged' : `the target is unchanged (transaction ${txnId} rolled back)${err.hint ? '; ' + err.hint : ''}`;
  if (err.exitCode !== 1) {
    return new TxnError('E_FS', err.message, { hint, cause: err, details: { ...err.facts, txnId, code: err.code } });
  }
  return new TxnError(err.code, err.message, { hint, cause: err.cause, details: { ...err.facts, txnId } });
}
