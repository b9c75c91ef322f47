/**
 * Reads the current target (read-only): what is at every path the plan may touch. Files whose
 * size matches the manifest are hashed so the plan can tell unchanged files from changed ones.
 */
import * as path from 'node:path';
import { relAncestors, under, type DiskState, type InstalledFile, type Manifest } from '@codemate-txn/core';
import { hashFile, type TxnFs } from '@codemate-txn/fsops';

export interface TargetScan {
  /** What is at the target path itself. */
  root: DiskState;
  /** Disk state of every manifest path, installed path and their ancestors. */
  states: Map<string, DiskState>;
  /** Entries of directories that may become empty (ancestors of installed paths). */
  children: Map<string, string[]>;
}

function stateOf(fs: TxnFs, abs: string): DiskState {
  const st = fs.lstat(abs);
  if (st === undefined) return { type: 'absent' };
  if (st.isSymbolicLink()) return { type: 'symlink', target: fs.readlink(abs), toDir: fs.isDirFollowed(abs) };
  if (st.isDirectory()) return { type: 'dir', mode: st.mode & 0o7777 };
  if (st.isFile()) return { type: 'file', size: st.size, mode: st.mode & 0o7777, ino: st.ino, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
  return { type: 'other' };
}

async function pool<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!);
    }
  });
  await Promise.all(workers);
}

/** What a file's stat was when its content had this hash (the journal's stat cache). */
export interface CachedStat {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  sha256: string;
}

export async function scanTarget(
  fs: TxnFs,
  target: string,
  manifest: Manifest,
  installed: readonly InstalledFile[],
  concurrency = 8,
  statCache?: ReadonlyMap<string, CachedStat>,
  /** Directory entry names already read this run (relative dir → names): not read again. */
  listings?: ReadonlyMap<string, string[]>,
): Promise<TargetScan & { hashed: number; cached: number }> {
  const root = stateOf(fs, target);
  const states = new Map<string, DiskState>();
  const children = new Map<string, string[]>();
  if (root.type !== 'dir') return { root, states, children, hashed: 0, cached: 0 };

  // Walk top-down so nothing below a symlink or a non-directory is ever looked at through it.
  const look = (rel: string): DiskState => {
    let s = states.get(rel);
    if (s !== undefined) return s;
    const parent = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';
    if (parent !== '') {
      const ps = look(parent);
      if (ps.type !== 'dir') {
        s = { type: 'absent' };
        states.set(rel, s);
        return s;
      }
    }
    s = stateOf(fs, under(target, rel));
    states.set(rel, s);
    return s;
  };

  const toHash: Array<{ rel: string; state: DiskState & { type: 'file' } }> = [];
  let cached = 0;
  for (const e of manifest.files) {
    const s = look(e.path);
    if (e.type === 'file' && s.type === 'file' && s.size === e.size) {
      // Unchanged since the last commit (same size, mtime, ctime, inode): its hash is known.
      const c = statCache?.get(e.path);
      if (c && c.size === s.size && c.mtimeMs === s.mtimeMs && c.ctimeMs === s.ctimeMs && c.ino === s.ino) {
        s.sha256 = c.sha256;
        cached++;
      } else {
        toHash.push({ rel: e.path, state: s });
      }
    }
  }
  const list = (rel: string): string[] => listings?.get(rel) ?? fs.readdir(under(target, rel));
  for (const f of installed) {
    const s = look(f.path);
    if (f.type === 'dir' && s.type === 'dir' && !children.has(f.path)) children.set(f.path, list(f.path));
    for (const a of relAncestors(f.path)) {
      if (look(a).type === 'dir' && !children.has(a)) children.set(a, list(a));
    }
  }
  const workers = fs.deterministic ? 1 : concurrency;
  await pool(toHash, workers, async ({ rel, state }) => {
    state.sha256 = (await hashFile(path.join(target, ...rel.split('/')), state.size)).sha256;
  });
  return { root, states, children, hashed: toHash.length, cached };
}
