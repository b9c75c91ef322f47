/** Shared fixtures for the engine tests: two releases that exercise every kind of change. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadManifestFile } from '@codemate-txn/manifest';
import { TxnFs } from '@codemate-txn/fsops';
import { defaultContext, type EngineContext } from '@codemate-txn/engine';
import { makeRelease, snapshotTree, type TreeSpec } from '@codemate-txn/testkit';
import type { LoadedManifest } from '@codemate-txn/core';
import type { FaultConfig } from '@codemate-txn/fsops';

export const TREE_V1: TreeSpec = {
  'index.js': 'module.exports = 1\n',
  'src/a.js': 'a1\n',
  'src/b.js': 'b1\n',
  'src/gone.js': 'gone in 2\n',
  'old/only/deep.txt': 'whole dir goes away\n',
  'bin/tool': { content: '#!/bin/sh\necho 1\n', mode: 0o755 },
  'bin/helper': { content: '#!/bin/sh\necho helper\n', mode: 0o644 },
  'assets/résumé.txt': 'r1\n',
  'config/user_settings.json': '{"theme":"default"}\n',
  'lib/v1/x.js': 'x\n',
  'lib/current': { symlink: 'v1' },
  'README.md': 'readme\n',
};

export const TREE_V2: TreeSpec = {
  'index.js': 'module.exports = 2\n',
  'src/a.js': 'a1\n',
  'src/b.js': 'b2\n',
  'src/new/c.js': 'c2\n',
  'bin/tool': { content: '#!/bin/sh\necho 2\n', mode: 0o755 },
  'bin/helper': { content: '#!/bin/sh\necho helper\n', mode: 0o755 },
  'assets/résumé.txt': 'r2\n',
  'config/user_settings.json': '{"theme":"default2"}\n',
  'lib/v1/x.js': 'x\n',
  'lib/v2/y.js': 'y\n',
  'lib/current': { symlink: 'v2' },
  'cache': { dir: true },
  'empty-dir': { dir: true },
  'README.md': 'readme\n',
};

/** User files added after install; all match default preserve patterns. */
export const USER_FILES: TreeSpec = {
  'user_data/notes.db': 'mine',
  'user_data/.hidden': 'hidden',
  'logs/run.log': 'log',
  '.env.local': 'TOKEN=x',
  'src/private.secret': 's',
};

export interface Releases {
  root: string;
  m1: string;
  m2: string;
  l1: LoadedManifest;
  l2: LoadedManifest;
}

export async function makeReleases(root: string, v1: TreeSpec = TREE_V1, v2: TreeSpec = TREE_V2, app = 'acc'): Promise<Releases> {
  const m1 = await makeRelease(path.join(root, 'rel-1'), { app, version: '1.0.0', tree: v1 });
  const m2 = await makeRelease(path.join(root, 'rel-2'), { app, version: '2.0.0', tree: v2 });
  return { root, m1, m2, l1: await loadManifestFile(m1, root), l2: await loadManifestFile(m2, root) };
}

/** A context whose fault seam is configured in-process (no environment variables). */
export function ctxWith(faults: FaultConfig = {}): EngineContext {
  return { ...defaultContext({}), fs: new TxnFs(faults) };
}

export const snap = (dir: string): string[] => (fs.existsSync(dir) ? snapshotTree(dir) : ['<absent>']);
export const snapNoVersion = (dir: string): string[] => snap(dir).filter((l) => !l.includes(' .codemate-version'));

/** Everything beside the target: staging, backup, journal. */
export function siblings(target: string): string[] {
  return fs.readdirSync(path.dirname(target)).sort();
}
