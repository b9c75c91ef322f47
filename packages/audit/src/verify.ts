/**
 * `verify`: is the disk still what the journal says was installed? Every installed entry is
 * lstat'ed (never followed, nor is any parent directory that turned into a symlink), files are
 * hashed when their size matches, and the version file is compared with the installed version.
 * Preserved paths are the user's and are skipped. Read-only: nothing on disk or in the journal
 * changes. The CLI maps drift to exit 5 (E_DRIFT).
 */
import * as fs from 'node:fs';
import * as posix from 'node:path/posix';
import { formatMode, relAncestors, under, VERSION_FILE, type InstalledFile } from '@codemate-txn/core';
import { hashFile } from '@codemate-txn/fsops';
import { DEFAULT_PRESERVE, makePreserveMatcher } from '@codemate-txn/manifest';
import { layoutOf, readJournal, type AuditLocation } from './open-journal.js';
import { formatTable, plural } from './format-table.js';

export type DriftKind = 'missing' | 'modified' | 'mode' | 'type' | 'link';

/** What was expected or found at a path; only the facts that matter for the drift are set. */
export interface DriftFacts {
  /** file | symlink | dir | other | absent */
  type?: string;
  size?: number;
  sha256?: string;
  /** Permission bits in octal text, as in the installed_files view ('644'). */
  mode?: string;
  /** Symlink target. */
  target?: string;
  /** The version file's content (without its newline). */
  version?: string;
  /** The ancestor directory that is not a directory (a file or symlink put in its place). */
  at?: string;
  /** Why the path could not be read. */
  error?: string;
}

export interface Drift {
  path: string;
  kind: DriftKind;
  expected: DriftFacts;
  found: DriftFacts;
}

export interface VerifyOptions extends AuditLocation {
  /** Patterns added to DEFAULT_PRESERVE (the manifest's own `preserve` list, if known). */
  preserve?: string[];
  /** Files hashed at once (default 8). */
  concurrency?: number;
}

export interface VerifyReport {
  target: string;
  journal: string;
  installed: { app: string; version: string; txnId: number } | null;
  clean: boolean;
  /** Paths checked: installed entries not preserved, plus the version file when something is installed. */
  checked: number;
  /** Installed entries skipped because a preserve pattern matches them. */
  preserved: number;
  /** Sorted by path, then kind. One path can drift in two ways (content and mode). */
  drift: Drift[];
  /** Unfinished transactions: while one exists the disk is mid-change and drift is expected. */
  interrupted: number[];
}

export async function verify(opts: VerifyOptions): Promise<VerifyReport> {
  const layout = layoutOf(opts);
  // Read everything needed from the journal, then close it before touching the disk.
  const snap = readJournal(layout, (j) => ({
    files: j.installedFiles(),
    installed: j.installedVersion() ?? null,
    interrupted: j.interruptedTxns().map((t) => t.id),
  }));
  const matcher = makePreserveMatcher([...DEFAULT_PRESERVE, ...(opts.preserve ?? [])]);
  const isDir = dirTest(snap.files);
  const todo = snap.files.filter((f) => !matcher.isPreserved(f.path, isDir(f)));
  const ancestors = new Map<string, Promise<Found>>();
  const probeAncestor = (rel: string): Promise<Found> => {
    let p = ancestors.get(rel);
    if (p === undefined) { p = probe(under(layout.target, rel)); ancestors.set(rel, p); }
    return p;
  };

  const drift: Drift[] = [];
  await forEachLimit(todo, Math.max(1, opts.concurrency ?? 8), async (f) => {
    drift.push(...(await checkEntry(layout.target, f, probeAncestor)));
  });
  if (snap.installed !== null) drift.push(...checkVersionFile(layout.target, snap.installed.version));
  drift.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0));

  return {
    target: layout.target,
    journal: layout.journal,
    installed: snap.installed,
    clean: drift.length === 0,
    checked: todo.length + (snap.installed !== null ? 1 : 0),
    preserved: snap.files.length - todo.length,
    drift,
    interrupted: snap.interrupted,
  };
}

/**
 * Whether an installed entry counts as a directory for preserve matching: a directory, or a
 * symlink to one ("a trailing-slash pattern matches a directory or a symlink to one", DESIGN §4).
 * Decided from the journal, not the disk, so the link is never followed: a symlink is to a
 * directory when its target, resolved inside the target, is an installed directory or the parent
 * of an installed path.
 */
function dirTest(files: readonly InstalledFile[]): (f: InstalledFile) => boolean {
  const dirs = new Set<string>();
  for (const f of files) {
    if (f.type === 'dir') dirs.add(f.path);
    for (const a of relAncestors(f.path)) dirs.add(a);
  }
  return (f) => {
    if (f.type === 'dir') return true;
    if (f.type !== 'symlink' || f.linkTarget === null || posix.isAbsolute(f.linkTarget)) return false;
    const resolved = posix.normalize(posix.join(posix.dirname(f.path), f.linkTarget));
    return dirs.has(resolved.replace(/\/+$/, ''));
  };
}

type Found = { type: 'absent' } | { type: 'other' | 'error'; error?: string } | { type: 'file' | 'dir' | 'symlink'; stats: fs.Stats };

async function probe(abs: string): Promise<Found> {
  let st: fs.Stats;
  try {
    st = await fs.promises.lstat(abs);
  } catch (e: unknown) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { type: 'absent' };
    return { type: 'error', error: errText(e) };
  }
  if (st.isSymbolicLink()) return { type: 'symlink', stats: st };
  if (st.isFile()) return { type: 'file', stats: st };
  if (st.isDirectory()) return { type: 'dir', stats: st };
  return { type: 'other' };
}

function expectedOf(f: InstalledFile): DriftFacts {
  const e: DriftFacts = { type: f.type };
  if (f.size !== null && f.type === 'file') e.size = f.size;
  if (f.sha256 !== null && f.type === 'file') e.sha256 = f.sha256;
  if (f.mode !== null && f.type !== 'symlink') e.mode = formatMode(f.mode);
  if (f.linkTarget !== null && f.type === 'symlink') e.target = f.linkTarget;
  return e;
}

async function checkEntry(target: string, f: InstalledFile, probeAncestor: (rel: string) => Promise<Found>): Promise<Drift[]> {
  // A parent replaced by a symlink (or a file) would make lstat of the path look through it.
  for (const anc of relAncestors(f.path)) {
    const a = await probeAncestor(anc);
    if (a.type === 'dir') continue;
    if (a.type === 'absent') return [{ path: f.path, kind: 'missing', expected: expectedOf(f), found: { type: 'absent' } }];
    if (a.type === 'error') return [{ path: f.path, kind: 'missing', expected: expectedOf(f), found: { type: 'error', at: anc, error: a.error ?? '' } }];
    return [{ path: f.path, kind: 'type', expected: { type: f.type }, found: { type: a.type, at: anc } }];
  }

  const abs = under(target, f.path);
  const got = await probe(abs);
  if (got.type === 'absent') return [{ path: f.path, kind: 'missing', expected: expectedOf(f), found: { type: 'absent' } }];
  if (got.type === 'error') return [{ path: f.path, kind: 'missing', expected: expectedOf(f), found: { type: 'error', error: got.error ?? '' } }];
  if (got.type !== f.type) return [{ path: f.path, kind: 'type', expected: { type: f.type }, found: { type: got.type } }];

  const out: Drift[] = [];
  if (got.type === 'symlink') {
    let link: string;
    try {
      link = await fs.promises.readlink(abs);
    } catch (e: unknown) {
      return [{ path: f.path, kind: 'link', expected: { target: f.linkTarget ?? '' }, found: { error: errText(e) } }];
    }
    if (f.linkTarget !== null && link !== f.linkTarget) {
      out.push({ path: f.path, kind: 'link', expected: { target: f.linkTarget }, found: { target: link } });
    }
    return out; // a symlink's own mode means nothing on Linux
  }

  const st = got.stats;
  if (got.type === 'file' && (f.size !== null || f.sha256 !== null)) {
    if (f.size !== null && st.size !== f.size) {
      // No need to hash: the size alone proves the change.
      out.push({ path: f.path, kind: 'modified', expected: { size: f.size, ...(f.sha256 !== null ? { sha256: f.sha256 } : {}) }, found: { size: st.size } });
    } else if (f.sha256 !== null) {
      try {
        const h = await hashFile(abs);
        if (h.sha256 !== f.sha256 || (f.size !== null && h.size !== f.size)) {
          out.push({ path: f.path, kind: 'modified', expected: { size: f.size ?? h.size, sha256: f.sha256 }, found: { size: h.size, sha256: h.sha256 } });
        }
      } catch (e: unknown) {
        out.push({ path: f.path, kind: 'modified', expected: { sha256: f.sha256 }, found: { error: errText(e) } });
      }
    }
  }
  if (f.mode !== null && (st.mode & 0o7777) !== (f.mode & 0o7777)) {
    out.push({ path: f.path, kind: 'mode', expected: { mode: formatMode(f.mode) }, found: { mode: formatMode(st.mode) } });
  }
  return out;
}

/** `.codemate-version` holds the installed version and a newline (DESIGN §2). */
function checkVersionFile(target: string, version: string): Drift[] {
  const abs = under(target, VERSION_FILE);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(abs);
  } catch (e: unknown) {
    const code = (e as { code?: unknown }).code;
    const found: DriftFacts = code === 'ENOENT' || code === 'ENOTDIR' ? { type: 'absent' } : { type: 'error', error: errText(e) };
    return [{ path: VERSION_FILE, kind: 'missing', expected: { type: 'file', version }, found }];
  }
  if (!st.isFile()) {
    return [{ path: VERSION_FILE, kind: 'type', expected: { type: 'file' }, found: { type: st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'other' } }];
  }
  // Small by contract; refuse to read something huge that merely sits at this name.
  if (st.size > 4096) return [{ path: VERSION_FILE, kind: 'modified', expected: { version }, found: { size: st.size } }];
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (e: unknown) {
    return [{ path: VERSION_FILE, kind: 'modified', expected: { version }, found: { error: errText(e) } }];
  }
  const found = text.replace(/\r?\n$/, '');
  return found === version ? [] : [{ path: VERSION_FILE, kind: 'modified', expected: { version }, found: { version: found } }];
}

async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function errText(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  const msg = e instanceof Error ? e.message : String(e);
  return typeof code === 'string' && !msg.startsWith(code) ? `${code}: ${msg}` : msg;
}

function describe(f: DriftFacts): string {
  const parts: string[] = [];
  if (f.type !== undefined) parts.push(f.at !== undefined ? `${f.type} at ${f.at}` : f.type);
  if (f.size !== undefined) parts.push(plural(f.size, 'byte'));
  if (f.sha256 !== undefined) parts.push(`sha256 ${f.sha256.slice(0, 12)}…`);
  if (f.mode !== undefined) parts.push(`mode ${f.mode}`);
  if (f.target !== undefined) parts.push(`-> ${f.target}`);
  if (f.version !== undefined) parts.push(`version ${JSON.stringify(f.version)}`);
  if (f.error !== undefined) parts.push(`unreadable (${f.error})`);
  return parts.join(', ');
}

/** A verdict line, the drift as a table, and what to do about it. */
export function formatVerify(r: VerifyReport): string {
  const what = r.installed === null ? 'nothing installed' : `${r.installed.app} ${r.installed.version}`;
  const counted = `${plural(r.checked, 'path')} checked${r.preserved ? `, ${r.preserved} preserved skipped` : ''}`;
  const out: string[] = [];
  if (r.interrupted.length > 0) {
    out.push(`warning: transaction ${r.interrupted.join(', ')} is unfinished; the disk may be mid-change (see codemate-txn status)`);
  }
  if (r.clean) {
    out.push(`clean: ${what} at ${r.target} matches the journal (${counted})`);
    return out.join('\n');
  }
  out.push(`drift: ${plural(r.drift.length, 'difference')} between ${r.target} and the journal (${what}; ${counted})`);
  out.push('');
  out.push(formatTable(['KIND', 'PATH', 'EXPECTED', 'FOUND'], r.drift.map((d) => [d.kind, d.path, describe(d.expected), describe(d.found)])));
  out.push('');
  out.push('to restore the installed files: codemate-txn apply <manifest of this version> --repair');
  return out.join('\n');
}
