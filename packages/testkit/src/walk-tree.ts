/** Depth-first walk of a directory (lstat, never following symlinks); internal to the testkit. */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface WalkEntry {
  /** '/'-separated path relative to the root. */
  rel: string;
  abs: string;
  stat: fs.Stats;
}

export interface WalkOptions {
  /** Return true to leave a path out; an excluded directory is not descended into. */
  exclude?: (rel: string) => boolean;
}

export function walkTree(root: string, opts: WalkOptions = {}): WalkEntry[] {
  const out: WalkEntry[] = [];
  const visit = (dirAbs: string, dirRel: string): void => {
    for (const name of fs.readdirSync(dirAbs).sort()) {
      const rel = dirRel === '' ? name : `${dirRel}/${name}`;
      if (opts.exclude?.(rel)) continue;
      const abs = path.join(dirAbs, name);
      const stat = fs.lstatSync(abs);
      out.push({ rel, abs, stat });
      if (stat.isDirectory()) visit(abs, rel);
    }
  };
  visit(root, '');
  return out;
}
