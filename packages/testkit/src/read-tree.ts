/** The regular files of a tree as { '/'-separated path: UTF-8 content }, for short asserts. */
import * as fs from 'node:fs';
import { walkTree, type WalkOptions } from './walk-tree.js';

/** Files only: symlinks and directories are left out (use snapshotTree for those). */
export function readTree(root: string, opts: WalkOptions = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { rel, abs, stat } of walkTree(root, opts)) {
    if (stat.isFile()) out[rel] = fs.readFileSync(abs, 'utf8');
  }
  return out;
}
