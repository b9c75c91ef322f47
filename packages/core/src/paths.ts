/**
 * Side-file names of the disk layout (DESIGN §2). Pure functions: the one place these names are
 * made, so engine, recover and tests agree.
 */
import * as path from 'node:path';
import { TxnError } from './errors.js';

export interface TargetLayout {
  /** The installation, absolute. */
  target: string;
  parent: string;
  name: string;
  /** <parent>/<name>.staging */
  staging: string;
  /** <parent>/<name>.staging.resume: verified downloads an interrupted apply left for the next one. */
  stagingResume: string;
  /** <parent>/backup_staging */
  backupRoot: string;
  /** <parent>/backup_staging/<name> */
  backupApp: string;
  /** <parent>/<name>.journal.db */
  journal: string;
  /** <parent>/<name>.lock */
  lock: string;
}

export function targetLayout(target: string, journal?: string): TargetLayout {
  // path.resolve('') is the current directory: an empty target is a caller's bug, never a place.
  if (target === '') throw new TxnError('E_USAGE', 'the target must be a path, found an empty string', { hint: 'pass the installation directory; nothing was changed' });
  const abs = path.resolve(target);
  const parent = path.dirname(abs);
  const name = path.basename(abs);
  const journalPath = journal ? path.resolve(journal) : path.join(parent, `${name}.journal.db`);
  return {
    target: abs,
    parent,
    name,
    staging: path.join(parent, `${name}.staging`),
    stagingResume: path.join(parent, `${name}.staging.resume`),
    backupRoot: path.join(parent, 'backup_staging'),
    backupApp: path.join(parent, 'backup_staging', name),
    journal: journalPath,
    lock: `${journalPath}.lock`,
  };
}

/** backup_staging/<name>/backup_staging_<fromVersion> (plus a suffix when taken). */
export function backupDirName(fromVersion: string | null, suffix = 0): string {
  const base = `backup_staging_${fromVersion ?? 'initial'}`;
  return suffix === 0 ? base : `${base}.${suffix}`;
}

/** A '.' or '..' segment, an empty one, or a leading or trailing '/': path.join would rewrite it. */
const NOT_PLAIN = /(?:^|\/)\.{0,2}(?:\/|$)|\\/;
let lastRoot = '';
let lastRootPlain = false;

/**
 * Joins a manifest path ('/'-separated) under a root directory. Called for every path several times
 * a run, so a plain path (no '.', '..' or empty segments) under a normalized root is concatenated
 * on POSIX; anything else goes through path.join, exactly as before.
 */
export function under(root: string, rel: string): string {
  if (rel === '') return root;
  if (path.sep === '/') {
    if (root !== lastRoot) {
      lastRoot = root;
      lastRootPlain = root.length > 1 && !root.endsWith('/') && path.normalize(root) === root;
    }
    if (lastRootPlain && !NOT_PLAIN.test(rel)) return `${root}/${rel}`;
  }
  return path.join(root, ...rel.split('/'));
}

/** Parent of a manifest path ('' for top level). */
export function relParent(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

/** All ancestor directories of a manifest path, outermost first ('a/b/c' → ['a', 'a/b']). */
export function relAncestors(rel: string): string[] {
  // Called for every entry several times per run: prefixes by index, no split and join.
  const out: string[] = [];
  for (let i = rel.indexOf('/'); i !== -1; i = rel.indexOf('/', i + 1)) out.push(rel.slice(0, i));
  return out;
}

export function formatMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(3, '0');
}
