/**
 * Builds a directory tree from an object literal: files (with exact modes), symlinks and
 * directories, parents made as needed. Keys are '/'-separated paths relative to the root.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export type TreeSpecEntry =
  | string
  | Buffer
  | { content: string | Buffer; mode?: number }
  | { symlink: string }
  | { dir: true; mode?: number };

export type TreeSpec = Record<string, TreeSpecEntry>;

/**
 * Creates every entry of `spec` under `root` (made if missing) and returns `root`.
 * Files get mode 0o644 unless given, applied with chmod so the umask does not interfere;
 * existing files are overwritten and existing symlinks replaced. A directory's mode is applied
 * last, deepest first, so a read-only directory can still receive its children.
 */
export function makeTree(root: string, spec: TreeSpec): string {
  fs.mkdirSync(root, { recursive: true });
  const dirModes: Array<[string, number]> = [];
  for (const [rel, entry] of Object.entries(spec)) {
    const abs = resolveInside(root, rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    if (typeof entry === 'string' || Buffer.isBuffer(entry)) {
      writeFile(abs, entry, 0o644);
    } else if ('content' in entry) {
      writeFile(abs, entry.content, entry.mode ?? 0o644);
    } else if ('symlink' in entry) {
      fs.rmSync(abs, { force: true });
      fs.symlinkSync(entry.symlink, abs);
    } else {
      fs.mkdirSync(abs, { recursive: true });
      if (entry.mode !== undefined) dirModes.push([abs, entry.mode]);
    }
  }
  dirModes.sort((a, b) => b[0].length - a[0].length);
  for (const [abs, mode] of dirModes) fs.chmodSync(abs, mode);
  return root;
}

function writeFile(abs: string, content: string | Buffer, mode: number): void {
  fs.writeFileSync(abs, content);
  fs.chmodSync(abs, mode);
}

function resolveInside(root: string, rel: string): string {
  const clean = rel.replace(/\/+$/, '');
  const parts = clean.split('/');
  if (clean === '' || clean.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new Error(`makeTree: bad path ${JSON.stringify(rel)}: expected a relative '/'-separated path without '.', '..' or empty segments`);
  }
  return path.join(root, ...parts);
}
