/**
 * manifest + installed set + scan of the target → the ordered plan. Pure: no I/O, so it is what
 * --dry-run prints and what the engine executes.
 */
import {
  TxnError,
  relAncestors,
  type DiskState,
  type FileEntry,
  type InstalledFile,
  type Manifest,
  type ManifestEntry,
  type TxnKind,
} from '@codemate-txn/core';
import type { TargetScan } from './scan.js';

export interface Preserver {
  isPreserved(rel: string, isDir: boolean): boolean;
}

export type PlanAction = 'install' | 'replace' | 'unchanged' | 'chmod' | 'preserved' | 'preserved-install';

export interface PlannedEntry {
  path: string;
  entry: ManifestEntry;
  action: PlanAction;
  /** False for preserved paths: installed only if absent, then the user's. */
  managed: boolean;
}

export interface BackupItem {
  path: string;
  ftype: 'file' | 'symlink' | 'dir' | 'other';
  reason: 'replace' | 'remove' | 'collision' | 'type-change' | 'empty-dir';
}

export interface Plan {
  kind: TxnKind;
  app: string;
  fromVersion: string | null;
  toVersion: string;
  /** Target missing: stage everything and place it with one rename. */
  freshRoot: boolean;
  entries: PlannedEntry[];
  /** Files and symlinks to stage (and then place), in manifest order. */
  stage: ManifestEntry[];
  /** Renames of existing paths into the backup, in this order (files first, then dirs deepest first). */
  backups: BackupItem[];
  /** Directories to create in the target, parents first. */
  mkdirs: Array<{ path: string; mode: number }>;
  /** Staged paths to rename into the target. */
  places: string[];
  chmods: Array<{ path: string; from: number; to: number }>;
  /** Paths previously installed that go away. */
  removed: string[];
  counts: { installed: number; replaced: number; removed: number; unchanged: number; preserved: number; chmod: number };
  bytesToStage: number;
}

export interface PlanInput {
  manifest: Manifest;
  /** The recorded installation, if any. */
  installedVersion: string | null;
  installed: readonly InstalledFile[];
  scan: TargetScan;
  preserve: Preserver;
  kind: TxnKind;
}

const DIR_MODE = 0o755;

/** A directory, or a symlink to one: what a trailing-slash preserve pattern matches on disk. */
function isDirLike(s: DiskState | undefined): boolean {
  return s?.type === 'dir' || (s?.type === 'symlink' && s.toDir === true);
}

function sameContent(e: FileEntry, s: DiskState): boolean {
  return s.type === 'file' && s.size === e.size && s.sha256 === e.sha256;
}

export function computePlan(input: PlanInput): Plan {
  const { manifest, scan, preserve } = input;
  const installed = new Map(input.installed.map((f) => [f.path, f]));
  const state = (rel: string): DiskState => scan.states.get(rel) ?? { type: 'absent' };
  const freshRoot = scan.root.type === 'absent';
  if (scan.root.type !== 'absent' && scan.root.type !== 'dir') {
    throw new TxnError('E_TARGET_INVALID', `the target exists and is ${scan.root.type === 'symlink' ? 'a symlink' : 'not a directory'}; expected a directory or nothing`, {
      hint: 'point --target at a directory (not a symlink to one), or move what is there',
    });
  }

  const entries: PlannedEntry[] = [];
  const stage: ManifestEntry[] = [];
  const backups: BackupItem[] = [];
  const backedUp = new Set<string>();
  const mkdirs: Array<{ path: string; mode: number }> = [];
  const mkdirSet = new Set<string>();
  const places: string[] = [];
  const chmods: Plan['chmods'] = [];
  const counts = { installed: 0, replaced: 0, removed: 0, unchanged: 0, preserved: 0, chmod: 0 };
  let bytesToStage = 0;

  const manifestPaths = new Map(manifest.files.map((e) => [e.path, e]));
  /** Every directory the new version needs: dir entries and ancestors of every entry. */
  const neededDirs = new Set<string>();
  for (const e of manifest.files) {
    for (const a of relAncestors(e.path)) neededDirs.add(a);
    if (e.type === 'dir') neededDirs.add(e.path);
  }

  const backup = (path: string, reason: BackupItem['reason']): void => {
    if (backedUp.has(path)) return;
    const s = state(path);
    if (s.type === 'absent') return;
    backedUp.add(path);
    backups.push({ path, ftype: s.type, reason });
  };

  const isPreservedPath = (rel: string, isDir: boolean): boolean => {
    if (preserve.isPreserved(rel, isDir)) return true;
    return relAncestors(rel).some((a) => preserve.isPreserved(a, true));
  };

  // 1. Paths the old version installed that the new one lacks are removed (unless preserved now).
  const removed: string[] = [];
  // On a case-insensitive disk a case-only rename (Readme.md → README.md) is one file under two
  // names: the old name is backed up once, as the replaced file, and never removed separately
  // (removing it would take the new name with it).
  const folded = new Map<string, string>();
  for (const e of manifest.files) folded.set(foldCase(e.path), e.path);
  const aliasOf = new Map<string, string>();
  if (!freshRoot) {
    for (const f of input.installed) {
      if (manifestPaths.has(f.path) || neededDirs.has(f.path)) continue;
      const s = state(f.path);
      if (s.type === 'absent') continue;
      if (isPreservedPath(f.path, isDirLike(s))) continue;
      if (f.type === 'dir' || s.type === 'dir') continue; // directories go once emptied (below)
      const twin = folded.get(foldCase(f.path));
      const ts = twin === undefined ? undefined : state(twin);
      if (twin !== undefined && s.type === 'file' && ts?.type === 'file' && ts.ino === s.ino) {
        aliasOf.set(twin, f.path);
        backup(f.path, 'replace');
        continue;
      }
      removed.push(f.path);
      backup(f.path, 'remove');
      counts.removed++;
    }
  }

  // 2. Each manifest entry: unchanged, chmod, install or replace.
  const checkParents = (e: ManifestEntry): void => {
    for (const a of relAncestors(e.path)) {
      const s = state(a);
      if (s.type === 'absent' || s.type === 'dir') continue;
      // Only what the engine itself placed there (a symlink or file it installed, still of that
      // type) may go; a user's symlink over a directory we installed is the user's.
      const ours = installed.get(a);
      const goingAway = ours !== undefined && !manifestPaths.has(a) && ours.type === s.type;
      if (s.type === 'symlink' && !goingAway) {
        throw new TxnError('E_SYMLINK_PARENT', `manifest path "${e.path}" lies below "${a}", which is a symlink the engine did not place (-> ${s.target}); expected a real directory`, {
          hint: 'the engine never writes through a symlinked directory; replace the symlink with a directory or remove it, then retry',
          details: { path: e.path, parent: a },
        });
      }
      if (!goingAway) {
        throw new TxnError('E_PATH_CONFLICT', `manifest path "${e.path}" needs "${a}" to be a directory, found a ${s.type} the engine did not install`, {
          hint: `move "${a}" out of the target, then retry`,
          details: { path: e.path, parent: a },
        });
      }
      backup(a, 'type-change');
      if (!removed.includes(a)) { removed.push(a); counts.removed++; }
    }
  };

  for (const e of manifest.files) {
    const s = freshRoot ? ({ type: 'absent' } as DiskState) : state(e.path);
    // Preserved as the release has it, or as the disk has it: a user's `logs -> /other/disk` link
    // is theirs even where the release wants a file or a link called logs.
    const preserved = isPreservedPath(e.path, e.type === 'dir') || (s.type !== 'absent' && isPreservedPath(e.path, isDirLike(s)));
    // Below a preserved directory the user made a symlink (logs -> /other/disk): the user's, and
    // never written through. Skipped like any present preserved path.
    if (preserved && !freshRoot && relAncestors(e.path).some((a) => state(a).type === 'symlink')) {
      entries.push({ path: e.path, entry: e, action: 'preserved', managed: false });
      counts.preserved++;
      continue;
    }
    if (!freshRoot) checkParents(e);
    if (preserved && s.type !== 'absent') {
      // The user's preserved path is of another kind than the release wants: refuse, never destroy.
      const wantDir = e.type === 'dir';
      const isDir = isDirLike(s);
      if (wantDir !== isDir && !(e.type === 'symlink' && s.type === 'symlink')) {
        throw new TxnError('E_PATH_CONFLICT', `the release wants "${e.path}" as a ${e.type}, but it is a preserved ${s.type === 'dir' ? 'directory' : s.type} of yours; preserved paths are never replaced`, {
          hint: `move "${e.path}" aside if the new version may take it over, or keep the old version; nothing was changed`,
          details: { path: e.path, wanted: e.type, found: s.type },
        });
      }
      entries.push({ path: e.path, entry: e, action: 'preserved', managed: false });
      counts.preserved++;
      continue;
    }
    let action: PlanAction;
    if (e.type === 'dir') {
      if (s.type === 'dir') {
        action = s.mode === e.mode ? 'unchanged' : 'chmod';
        if (action === 'chmod') chmods.push({ path: e.path, from: s.mode, to: e.mode });
      } else {
        if (s.type !== 'absent') {
          if (!installed.has(e.path) && s.type === 'other') {
            throw new TxnError('E_PATH_CONFLICT', `manifest dir "${e.path}" is occupied by a special file; expected a directory or nothing`, { details: { path: e.path } });
          }
          backup(e.path, 'type-change');
        }
        action = s.type === 'absent' ? 'install' : 'replace';
        if (!mkdirSet.has(e.path)) { mkdirSet.add(e.path); mkdirs.push({ path: e.path, mode: e.mode }); }
      }
    } else {
      // A new spelling of a file going away under its old one (case-only rename on a
      // case-insensitive disk) is never unchanged: the old name moves to the backup, taking the
      // bytes with it, so the file is staged and placed under the new name.
      if (e.type === 'file' && sameContent(e, s) && !aliasOf.has(e.path)) {
        action = s.type === 'file' && s.mode === e.mode ? 'unchanged' : 'chmod';
        if (action === 'chmod' && s.type === 'file') chmods.push({ path: e.path, from: s.mode, to: e.mode });
      } else if (e.type === 'symlink' && s.type === 'symlink' && s.target === e.target) {
        action = 'unchanged';
      } else {
        if (s.type === 'dir') {
          // A directory where a file goes: only if everything in it goes away with the old version.
          if (!willBeEmpty(e.path)) {
            throw new TxnError('E_PATH_CONFLICT', `manifest ${e.type} "${e.path}" is occupied by a directory that holds files the engine does not own; expected it to be empty once the old version is removed`, {
              hint: `move the contents of "${e.path}" out of the target, then retry`,
              details: { path: e.path },
            });
          }
          backup(e.path, 'type-change');
        } else if (s.type !== 'absent' && !aliasOf.has(e.path)) {
          backup(e.path, installed.has(e.path) ? 'replace' : 'collision');
        }
        action = s.type === 'absent' ? 'install' : 'replace';
        stage.push(e);
        places.push(e.path);
        if (e.type === 'file') bytesToStage += e.size;
      }
    }
    if (preserved) action = action === 'install' ? 'preserved-install' : action;
    entries.push({ path: e.path, entry: e, action, managed: !preserved });
    if (action === 'install' || action === 'preserved-install') counts.installed++;
    else if (action === 'replace') counts.replaced++;
    else if (action === 'chmod') counts.chmod++;
    else counts.unchanged++;
  }

  // Implicit parent directories to create (not needed for a fresh root: staging holds them).
  if (!freshRoot) {
    const need: string[] = [];
    for (const p of places) for (const a of relAncestors(p)) need.push(a);
    for (const m of mkdirs) for (const a of relAncestors(m.path)) need.push(a);
    for (const a of need) {
      if (mkdirSet.has(a)) continue;
      const s = state(a);
      if (s.type === 'dir') continue;
      mkdirSet.add(a);
      mkdirs.push({ path: a, mode: manifestPaths.get(a)?.type === 'dir' ? (manifestPaths.get(a) as { mode: number }).mode : DIR_MODE });
    }
    mkdirs.sort((x, y) => depth(x.path) - depth(y.path) || (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  }

  // 3. Directories left empty by removals, deepest first (never the target itself).
  function willBeEmpty(dir: string): boolean {
    const kids = scan.children.get(dir);
    if (kids === undefined) return state(dir).type === 'absent';
    return kids.every((k) => {
      const rel = `${dir}/${k}`;
      if (backedUp.has(rel)) return true;
      const s = state(rel);
      if (s.type === 'dir' && !neededDirs.has(rel) && !isPreservedPath(rel, true)) return willBeEmpty(rel);
      return false;
    });
  }
  if (!freshRoot) {
    const candidates = new Set<string>();
    for (const r of removed) for (const a of relAncestors(r)) candidates.add(a);
    for (const f of input.installed) if (f.type === 'dir' && !manifestPaths.has(f.path)) candidates.add(f.path);
    const ordered = [...candidates].sort((x, y) => depth(y) - depth(x) || (x < y ? -1 : 1));
    for (const d of ordered) {
      if (neededDirs.has(d) || backedUp.has(d)) continue;
      if (state(d).type !== 'dir' || isPreservedPath(d, true)) continue;
      if (!willBeEmpty(d)) continue;
      backup(d, 'empty-dir');
      if (installed.has(d)) counts.removed++;
    }
  }

  // A directory that ends up empty moves to the backup whole, in one rename, with everything in it
  // (all of which was going to the backup anyway); paths below it need no op of their own.
  const wholeDirs = new Set(backups.filter((b) => b.ftype === 'dir').map((b) => b.path));
  const below = (p: string): boolean => relAncestors(p).some((a) => wholeDirs.has(a));
  const kept = backups.filter((b) => !below(b.path));
  // Files first, then directories deepest first.
  const fileBackups = kept.filter((b) => b.ftype !== 'dir');
  const dirBackups = kept.filter((b) => b.ftype === 'dir').sort((x, y) => depth(y.path) - depth(x.path));

  return {
    kind: input.kind,
    app: manifest.app,
    fromVersion: input.installedVersion,
    toVersion: manifest.version,
    freshRoot,
    entries,
    stage,
    backups: [...fileBackups, ...dirBackups],
    mkdirs,
    places,
    chmods,
    removed,
    counts,
    bytesToStage,
  };
}

function foldCase(p: string): string {
  return p.normalize('NFC').toLowerCase();
}

function depth(p: string): number {
  let n = 0;
  for (let i = 0; i < p.length; i++) if (p.charCodeAt(i) === 47) n++;
  return n;
}

/** True when the plan changes nothing on disk. */
export function isEmptyPlan(p: Plan): boolean {
  return p.stage.length === 0 && p.backups.length === 0 && p.mkdirs.length === 0 && p.chmods.length === 0;
}
