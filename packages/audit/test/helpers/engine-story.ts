/**
 * The demo story written by the real engine, in-process: install 1.0.0, update to 2.0.0 (replace,
 * add, remove, mode change, symlink retarget, a preserved file), then an update to 3.0.0 whose
 * manifest has a wrong sha256, so staging fails and it rolls back. The audit package never
 * imports the engine; its tests may, to audit what the engine really writes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { apply, defaultContext, loadManifestFile, isTxnError, type ApplyResult, type EngineContext } from '@codemate-txn/engine';
import { makeRelease, tempDir, type TreeSpec } from '@codemate-txn/testkit';

export const TREE_V1: TreeSpec = {
  'index.js': 'module.exports = 1\n',
  'README.md': 'readme\n',
  'bin/tool': { content: '#!/bin/sh\necho 1\n', mode: 0o755 },
  'bin/helper': { content: '#!/bin/sh\necho helper\n', mode: 0o644 },
  'lib/v1/a.js': 'a1\n',
  'lib/current': { symlink: 'v1' },
  'config/user_settings.json': '{"theme":"default"}\n',
};

export const TREE_V2: TreeSpec = {
  'index.js': 'module.exports = 2\n',
  'README.md': 'readme\n',
  'bin/tool': { content: '#!/bin/sh\necho 1\n', mode: 0o755 },
  'bin/helper': { content: '#!/bin/sh\necho helper\n', mode: 0o755 },
  'lib/v2/a.js': 'a2\n',
  'lib/current': { symlink: 'v2' },
  'config/user_settings.json': '{"theme":"default2"}\n',
};

export const TREE_V3: TreeSpec = { ...TREE_V2, 'index.js': 'module.exports = 3\n', 'lib/v3/new.js': 'new\n' };

export interface EngineStory {
  root: string;
  target: string;
  journal: string;
  manifests: { v1: string; v2: string; v3: string };
  sha256: { v1: string; v2: string; v3: string };
  results: { install: ApplyResult; update: ApplyResult };
  /** The failed update's error code. */
  failedCode: string;
  ids: { install: number; update: number; failed: number };
  ctx: EngineContext;
}

/** Who ran it: fixed, so tests can check that show/log report it. */
export function storyContext(): EngineContext {
  return { ...defaultContext({}), user: 'auditor-test', host: 'audit-host', pid: 31337 };
}

export async function buildEngineStory(): Promise<EngineStory> {
  const root = tempDir();
  const m1 = await makeRelease(path.join(root, 'rel-1'), { app: 'demo', version: '1.0.0', tree: TREE_V1 });
  const m2 = await makeRelease(path.join(root, 'rel-2'), { app: 'demo', version: '2.0.0', tree: TREE_V2 });
  const m3 = await makeRelease(path.join(root, 'rel-3'), {
    app: 'demo', version: '3.0.0', tree: TREE_V3,
    edit: (m) => {
      for (const e of m.files) if (e.path === 'lib/v3/new.js' && e.type === 'file') e.sha256 = '0'.repeat(64);
    },
  });
  const target = path.join(root, 'inst', 'app');
  const ctx = storyContext();
  const l1 = await loadManifestFile(m1, root);
  const l2 = await loadManifestFile(m2, root);
  const l3 = await loadManifestFile(m3, root);
  const install = await apply(l1, { target }, ctx);
  // The user's own files, all matching default preserve patterns.
  fs.mkdirSync(path.join(target, 'user_data'), { recursive: true });
  fs.writeFileSync(path.join(target, 'user_data/notes.db'), 'mine');
  fs.writeFileSync(path.join(target, 'config/user_settings.json'), '{"theme":"dark"}\n');
  const update = await apply(l2, { target }, ctx);
  let failedCode = 'none';
  try {
    await apply(l3, { target }, ctx);
  } catch (e: unknown) {
    if (!isTxnError(e)) throw e;
    failedCode = e.code;
  }
  if (failedCode !== 'E_STAGE_VERIFY') throw new Error(`the 3.0.0 update must fail with E_STAGE_VERIFY, got ${failedCode}`);
  return {
    root, target, journal: path.join(root, 'inst', 'app.journal.db'),
    manifests: { v1: m1, v2: m2, v3: m3 },
    sha256: { v1: l1.sha256, v2: l2.sha256, v3: l3.sha256 },
    results: { install, update }, failedCode,
    ids: { install: install.txnId ?? 0, update: update.txnId ?? 0, failed: (update.txnId ?? 0) + 1 },
    ctx,
  };
}
