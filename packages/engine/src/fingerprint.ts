/**
 * The preserved-files fingerprint (issue 5): sha256 over the sorted list of every preserved path
 * in the target with its type, size and content hash. Taken before staging and again just before
 * the commit point; if they differ the transaction rolls back. It is the engine's own proof that
 * it never touched a user's file, recorded in the journal for auditors.
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
}

/** Walks the target (lstat, never following links) and fingerprints its preserved paths. */
export function preserveFingerprint(target: string, preserve: Preserver, exclude: ReadonlySet<string>): Fingerprint {
  const lines: string[] = [];
  const walk = (dir: string, rel: string, underPreserved: boolean): void => {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const abs = path.join(dir, name);
      const st = fs.lstatSync(abs);
      const isDir = st.isDirectory();
      const preserved = underPreserved || preserve.isPreserved(r, isDir || (st.isSymbolicLink() && isDirTarget(abs)));
      if (preserved && !exclude.has(r)) {
        if (st.isFile()) {
          const h = st.size <= HASH_LIMIT ? createHash('sha256').update(fs.readFileSync(abs)).digest('hex') : `large:${st.mtimeMs}:${st.ino}`;
          lines.push(`f ${r} ${st.size} ${h}`);
        } else if (st.isSymbolicLink()) {
          lines.push(`l ${r} ${fs.readlinkSync(abs)}`);
        } else if (isDir) {
          lines.push(`d ${r}`);
        } else {
          lines.push(`o ${r}`);
        }
      }
      if (isDir) walk(abs, r, preserved);
    }
  };
  if (fs.existsSync(target)) walk(target, '', false);
  lines.sort();
  return { sha256: createHash('sha256').update(lines.join('\n')).digest('hex'), count: lines.length };
}

function isDirTarget(abs: string): boolean {
  try {
    return fs.statSync(abs).isDirectory();
  } catch {
    return false;
  }
}

/** Paths a transaction itself installs as preserved (absent before): not part of the comparison. */
export function installedByTxn(paths: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const p of paths) {
    out.add(p);
    for (const a of relAncestors(p)) out.add(a);
  }
  return out;
}
