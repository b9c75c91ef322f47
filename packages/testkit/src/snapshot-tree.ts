/**
 * Canonical listing of a tree, line for line the `snap` of shared/acceptance/lib.sh:
 *   f <mode> <path> <sha256>   regular file
 *   l - <path> <target>        symlink (never followed)
 *   d <mode> <path>            directory
 * mode is octal without leading zeros (`find -printf %m`); lines sorted bytewise (LC_ALL=C sort).
 * Anything else (fifo, socket, device) is listed as `o - <path>` so a test notices it.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { walkTree, type WalkOptions } from './walk-tree.js';

export type SnapshotOptions = WalkOptions;

export function snapshotTree(root: string, opts: SnapshotOptions = {}): string[] {
  const lines = walkTree(root, opts).map(({ rel, abs, stat }) => {
    const mode = (stat.mode & 0o7777).toString(8);
    if (stat.isFile()) return `f ${mode} ${rel} ${sha256File(abs)}`;
    if (stat.isSymbolicLink()) return `l - ${rel} ${fs.readlinkSync(abs)}`;
    if (stat.isDirectory()) return `d ${mode} ${rel}`;
    return `o - ${rel}`;
  });
  return lines.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

function sha256File(abs: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(abs)).digest('hex');
}
