/**
 * The preserved-files fingerprint (issue 5): sha256 over the sorted list of every preserved path
 * in the target with its type, size and content hash. Taken before staging (a walk of the whole
 * target) and again just before the commit point; if they differ the transaction rolls back. It is
 * the engine's own proof that it never touched a user's file, recorded in the journal for auditors.
 *
 * Both looks walk the whole target, so a preserved path changed, removed or added anywhere (by
 * anything: the engine never writes one) is caught. Directory entries carry their type, so only
 * preserved paths cost an lstat and a read; the rest of the tree is just listed.
 *
 * Files up to 1 MiB are hashed; larger ones (user databases, media) are fingerprinted by size,
 * mtime and inode, so an update does not read gigabytes of user data.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { relAncestors } from '@codemate-txn/core';
import type { Preserver } from '@codemate-txn/plan';

const HASH_LIMIT = 1024 * 1024;

export interface Fingerprint {
  sha256: string;
  count: number;
  /** Each preserved path's description (type, size, hash): to name what changed. */
  paths: Map<string, string>;
}

/** Preserved paths whose description differs between two fingerprints, as `path (what)`. */
export function changedPaths(before: Fingerprint, after: Fingerprint): string[] {
  const out: string[] = [];
  for (const [p, d] of before.paths) {
    const now = after.paths.get(p);
    if (now === undefined) out.push(`${p} (removed)`);
    else if (now !== d) out.push(`${p} (${now[0] === d[0] ? 'modified' : 'type changed'})`);
  }
  for (const p of after.paths.keys()) if (!before.paths.has(p)) out.push(`${p} (added)`);
  return out.sort();
}

/** One walk of the whole target: each preserved path's line, and every directory's entry names. */
export interface PreserveWalk {
  lines: Map<string, string>;
  /** Relative directory ('' for the target) → its entry names, as read (the scan reuses them). */
  listings: Map<string, string[]>;
}

/** Walks the target (never following links): every preserved path's line, every directory listed. */
export function walkPreserved(target: string, preserve: Preserver): PreserveWalk {
  const lines = new Map<string, string>();
  const listings = new Map<string, string[]>();
  const walk = (dir: string, rel: string, underPreserved: boolean): void => {
    const ents = listDir(dir);
    if (ents === undefined) return;
    listings.set(rel, ents.map((e) => e.name));
    for (const ent of ents) {
      const r = rel === '' ? ent.name : `${rel}/${ent.name}`;
      const abs = `${dir}${path.sep}${ent.name}`;
      const isDir = ent.isDirectory();
      const preserved = underPreserved || preserve.isPreserved(r, isDir || (ent.isSymbolicLink() && isDirTarget(abs)));
      if (preserved) lines.set(r, describe(abs, r));
      if (isDir) walk(abs, r, preserved);
    }
  };
  // Never through a link: a target that is a symlink is refused later, and is not read here either.
  if (fs.lstatSync(target, { throwIfNoEntry: false })?.isDirectory() === true) walk(target, '', false);
  return { lines, listings };
}

/** The fingerprint of a walk, leaving out the paths in exclude. */
export function fingerprintOf(w: PreserveWalk, exclude: ReadonlySet<string>): Fingerprint {
  const paths = new Map<string, string>();
  for (const [r, line] of w.lines) if (!exclude.has(r)) paths.set(r, line);
  const lines = [...paths.values()].sort();
  return { sha256: createHash('sha256').update(lines.join('\n')).digest('hex'), count: lines.length, paths };
}

/** Walks the target (never following links) and fingerprints its preserved paths. */
export function preserveFingerprint(target: string, preserve: Preserver, exclude: ReadonlySet<string>): Fingerprint {
  return fingerprintOf(walkPreserved(target, preserve), exclude);
}

/** A directory's entries; undefined when it cannot be listed (gone, or no permission). */
function listDir(dir: string): fs.Dirent[] | undefined {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return undefined;
  }
}

/** One preserved path's line: its type, and for a file its size and content hash (lstat now). */
function describe(abs: string, r: string): string {
  const st = fs.lstatSync(abs, { throwIfNoEntry: false });
  if (st === undefined) return `- ${r}`;
  if (st.isFile()) {
    const h = st.size <= HASH_LIMIT ? createHash('sha256').update(fs.readFileSync(abs)).digest('hex') : `large:${st.mtimeMs}:${st.ino}`;
    return `f ${r} ${st.size} ${h}`;
  }
  if (st.isSymbolicLink()) return `l ${r} ${fs.readlinkSync(abs)}`;
  if (st.isDirectory()) return `d ${r}`;
  return `o ${r}`;
}

function isDirTarget(abs: string): boolean {
  try {
    return fs.statSync(abs).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Entries inside directories moved to the backup whole that the walk before the transaction did
 * not list there (relative paths in the target, sorted): the user's, arrived during the update.
 */
export function gainedEntries(moved: ReadonlyArray<{ rel: string; dst: string }>, listings: ReadonlyMap<string, string[]>): string[] {
  const out: string[] = [];
  const visit = (rel: string, abs: string): void => {
    const before = new Set(listings.get(rel) ?? []);
    for (const ent of listDir(abs) ?? []) {
      const r = `${rel}/${ent.name}`;
      if (!before.has(ent.name)) out.push(r);
      else if (ent.isDirectory()) visit(r, `${abs}${path.sep}${ent.name}`);
    }
  };
  for (const m of moved) visit(m.rel, m.dst);
  return out.sort();
}

/** Paths a transaction itself installs (absent before), and their parents: not part of the comparison. */
export function installedByTxn(paths: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const p of paths) {
    out.add(p);
    for (const a of relAncestors(p)) out.add(a);
  }
  return out;
}
