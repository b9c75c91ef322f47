/** The inode number of a path (lstat: a symlink's own inode), to show a file was not touched. */
import * as fs from 'node:fs';

export function inodeOf(p: string): number {
  return fs.lstatSync(p).ino;
}
