/**
 * A release on disk, as the CLI consumes it: `<dir>/files/` (the tree) and `<dir>/manifest.json`
 * built from it by the manifest package, with `source` "./files" unless given.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Manifest } from '@codemate-txn/core';
import { buildManifest, serializeManifest } from '@codemate-txn/manifest';
import { makeTree, type TreeSpec } from './make-tree.js';

export interface ReleaseOptions {
  app: string;
  version: string;
  tree: TreeSpec;
  /** The manifest's `source`; default './files'. */
  source?: string;
  /** The manifest's `preserve` patterns. */
  preserve?: string[];
  /** Adjusts the built manifest before it is written (add `preserve`, a dir entry, a bad hash...). */
  edit?: (m: Manifest) => Manifest | void;
}

/** Writes the release and returns the absolute path of its manifest.json. */
export async function makeRelease(dir: string, opts: ReleaseOptions): Promise<string> {
  const files = path.join(dir, 'files');
  makeTree(files, opts.tree);
  let manifest = await buildManifest(files, {
    app: opts.app,
    version: opts.version,
    source: opts.source ?? './files',
    ...(opts.preserve ? { preserve: opts.preserve } : {}),
  });
  if (opts.edit) manifest = opts.edit(manifest) ?? manifest;
  const out = path.resolve(dir, 'manifest.json');
  fs.writeFileSync(out, serializeManifest(manifest));
  return out;
}
