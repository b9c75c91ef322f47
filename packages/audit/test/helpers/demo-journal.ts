/**
 * A journal written through the Journal API the way the engine will write it (the engine does not
 * exist yet), and a target tree that matches it. The story, on a fixed clock:
 *
 *   txn 1  install demo 1.0.0          2024-05-01T10:00:00Z  done after 2s
 *   txn 2  update  demo 1.0.0 → 2.0.0  2024-05-02T10:00:00Z  done after 3.5s
 *          (index.js replaced, lib/v2/a.js added, lib/v1/a.js removed, lib/current retargeted)
 *   txn 3  update  demo 2.0.0 → 3.0.0  2024-05-03T10:00:00Z  rolled back (E_STAGE_VERIFY)
 *
 * The disk is left at 2.0.0 with a user's preserved files beside it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Journal, type OpIntent, type PlannedFile, type TxnBegin } from '@codemate-txn/journal';
import type { TxnKind } from '@codemate-txn/core';
import { makeTree, sha256, tempDir, type TreeEntry } from './temp-tree.js';

export interface Demo {
  root: string;
  target: string;
  journal: string;
  /** Txn ids in story order. */
  ids: { install: number; update: number; failed: number };
}

export const CONTENT = {
  index1: 'module.exports = 1\n',
  index2: 'module.exports = 2\n',
  index3: 'module.exports = 3\n',
  tool: '#!/bin/sh\necho tool\n',
  readme: 'readme\n',
  a1: 'a1\n',
  a2: 'a2\n',
  settings: '{"theme":"default"}\n',
};

const T0 = Date.parse('2024-05-01T10:00:00.000Z');
const DAY = 86400e3;

function file(p: string, content: string, action: string, mode = 0o644, managed = true): PlannedFile {
  return { path: p, type: 'file', sha256: sha256(content), size: Buffer.byteLength(content), mode, linkTarget: null, action, managed };
}
function link(p: string, target: string, action: string): PlannedFile {
  return { path: p, type: 'symlink', sha256: null, size: null, mode: null, linkTarget: target, action, managed: true };
}
function dir(p: string, action: string, mode = 0o755): PlannedFile {
  return { path: p, type: 'dir', sha256: null, size: null, mode, linkTarget: null, action, managed: true };
}

export function buildDemo(): Demo {
  const root = tempDir();
  const target = path.join(root, 'app');
  const journalPath = path.join(root, 'app.journal.db');
  const staging = path.join(root, 'app.staging');
  const backupBase = path.join(root, 'backup_staging', 'app');
  let clock = T0;
  const j = Journal.open(journalPath, { now: () => new Date(clock) });

  const begin = (kind: TxnKind, from: string | null, to: string, backup: string | null): TxnBegin => ({
    kind, app: 'demo', fromVersion: from, toVersion: to, target, stagingDir: staging, backupDir: backup,
    keepBackup: false, manifestSha256: sha256(`manifest ${to}`), manifestSource: `https://example.test/demo/${to}/manifest.json`,
    pid: 4242, host: 'build-host', user: 'ci', toolVersion: '0.1.0',
  });
  const stageWrite = (p: PlannedFile): OpIntent => ({
    phase: 'stage', kind: 'write', action: 'stage', path: p.path, dst: path.join(staging, p.path), ftype: 'file',
    size: p.size, sha256: p.sha256, mode: p.mode, undo: 'none',
  });
  const run = (id: number, intents: OpIntent[], ms: number): number[] => {
    const seqs = j.addOps(id, intents);
    clock += ms;
    j.markOps(id, seqs, 'done');
    return seqs;
  };
  const versionOp = (v: string): OpIntent => ({
    phase: 'apply', kind: 'write', action: 'version', path: '.codemate-version', dst: path.join(target, '.codemate-version'),
    ftype: 'file', size: v.length + 1, sha256: sha256(`${v}\n`), mode: 0o644, undo: 'rename-back',
  });

  // --- txn 1: fresh install of 1.0.0 (one rename of the whole staging directory) ----------------
  const p1 = [
    file('index.js', CONTENT.index1, 'install'),
    file('bin/tool', CONTENT.tool, 'install', 0o755),
    file('README.md', CONTENT.readme, 'install'),
    file('lib/v1/a.js', CONTENT.a1, 'install'),
    link('lib/current', 'v1', 'install'),
    dir('data', 'install'),
    file('config/user_settings.json', CONTENT.settings, 'preserved-install', 0o644, false),
  ];
  const install = j.beginTxn(begin('install', null, '1.0.0', null), p1);
  run(install, [{ phase: 'stage', kind: 'mkdir', action: 'stage', path: '', dst: staging, ftype: 'dir', mode: 0o700, undo: 'rmtree' }], 10);
  run(install, p1.filter((p) => p.type === 'file').map(stageWrite), 900);
  run(install, [{ phase: 'stage', kind: 'symlink', action: 'stage', path: 'lib/current', dst: path.join(staging, 'lib/current'), ftype: 'symlink', linkTarget: 'v1', undo: 'none' }], 10);
  run(install, [{ phase: 'stage', kind: 'mkdir', action: 'stage', path: 'data', dst: path.join(staging, 'data'), ftype: 'dir', mode: 0o755, undo: 'none' }], 10);
  j.setState(install, 'applying');
  run(install, [{ phase: 'apply', kind: 'rename', action: 'place', path: '', src: staging, dst: target, ftype: 'dir', undo: 'rename-back' }], 70);
  run(install, [versionOp('1.0.0')], 500);
  clock += 500;
  j.commitTxn(install);
  j.setState(install, 'done');

  // --- txn 2: update 1.0.0 → 2.0.0 ----------------------------------------------------------------
  clock = T0 + DAY;
  const backup2 = path.join(backupBase, 'backup_staging_1.0.0');
  const p2 = [
    file('index.js', CONTENT.index2, 'replace'),
    file('bin/tool', CONTENT.tool, 'unchanged', 0o755),
    file('README.md', CONTENT.readme, 'unchanged'),
    file('lib/v2/a.js', CONTENT.a2, 'install'),
    link('lib/current', 'v2', 'replace'),
    dir('data', 'unchanged'),
    file('config/user_settings.json', CONTENT.settings, 'preserved', 0o644, false),
  ];
  const update = j.beginTxn(begin('update', '1.0.0', '2.0.0', backup2), p2);
  run(update, [{ phase: 'stage', kind: 'mkdir', action: 'stage', path: '', dst: staging, ftype: 'dir', mode: 0o700, undo: 'rmtree' }], 10);
  run(update, [stageWrite(p2[0] as PlannedFile), stageWrite(p2[3] as PlannedFile)], 1200);
  j.setState(update, 'applying');
  const bk = (p: string, action: string): OpIntent => ({ phase: 'apply', kind: 'rename', action, path: p, src: path.join(target, p), dst: path.join(backup2, 'original', p), undo: 'rename-back' });
  const place = (p: string, action: string): OpIntent => ({ phase: 'apply', kind: 'rename', action, path: p, src: path.join(staging, p), dst: path.join(target, p), undo: 'rename-back' });
  run(update, [bk('index.js', 'backup'), place('index.js', 'replace')], 100);
  run(update, [{ phase: 'apply', kind: 'mkdir', action: 'install', path: 'lib/v2', dst: path.join(target, 'lib/v2'), ftype: 'dir', mode: 0o755, undo: 'rmdir' }, place('lib/v2/a.js', 'install')], 100);
  run(update, [bk('lib/current', 'backup'), { phase: 'apply', kind: 'symlink', action: 'replace', path: 'lib/current', dst: path.join(target, 'lib/current'), ftype: 'symlink', linkTarget: 'v2', undo: 'rename-back' }], 100);
  run(update, [bk('lib/v1/a.js', 'remove'), { phase: 'apply', kind: 'rmdir', action: 'remove', path: 'lib/v1', src: path.join(target, 'lib/v1'), undo: 'none' }], 100);
  run(update, [versionOp('2.0.0')], 400);
  clock += 500;
  j.commitTxn(update);
  run(update, [{ phase: 'cleanup', kind: 'rmtree', action: 'cleanup', path: '', src: backup2, undo: 'none' }, { phase: 'cleanup', kind: 'rmtree', action: 'cleanup', path: '', src: staging, undo: 'none' }], 1000);
  j.setState(update, 'done');

  // --- txn 3: update 2.0.0 → 3.0.0 fails while staging -------------------------------------------
  clock = T0 + 2 * DAY;
  const p3 = [
    file('index.js', CONTENT.index3, 'replace'),
    file('bin/tool', CONTENT.tool, 'unchanged', 0o755),
    file('README.md', CONTENT.readme, 'unchanged'),
    file('lib/v2/a.js', CONTENT.a2, 'unchanged'),
    link('lib/current', 'v2', 'unchanged'),
    dir('data', 'unchanged'),
    file('config/user_settings.json', CONTENT.settings, 'preserved', 0o644, false),
  ];
  const failed = j.beginTxn(begin('update', '2.0.0', '3.0.0', path.join(backupBase, 'backup_staging_2.0.0')), p3);
  const [mk] = run(failed, [{ phase: 'stage', kind: 'mkdir', action: 'stage', path: '', dst: staging, ftype: 'dir', mode: 0o700, undo: 'rmtree' }], 10);
  const w = j.addOps(failed, [stageWrite(p3[0] as PlannedFile)]);
  clock += 300;
  const msg = 'staged index.js does not match the manifest: expected 19 bytes with sha256 ' + sha256(CONTENT.index3).slice(0, 12) + '…, found 20 bytes';
  j.markOps(failed, w, 'failed', msg);
  j.setState(failed, 'rolling_back', { error: msg, errorCode: 'E_STAGE_VERIFY' });
  const u = j.addOps(failed, [{ phase: 'undo', kind: 'rmtree', action: 'rollback', path: '', src: staging, undo: 'none', refSeq: mk ?? null }]);
  clock += 200;
  j.markOps(failed, u, 'done');
  j.markOps(failed, [mk as number], 'undone');
  j.setState(failed, 'rolled_back');
  j.close();

  // The disk at 2.0.0, plus the user's own files (preserved or unmanaged).
  makeTree(target, {
    'index.js': CONTENT.index2,
    'bin/tool': { content: CONTENT.tool, mode: 0o755 },
    'README.md': CONTENT.readme,
    'lib/v2/a.js': CONTENT.a2,
    'lib/current': { symlink: 'v2' },
    data: { dir: true, mode: 0o755 },
    'config/user_settings.json': '{"theme":"dark"}\n',
    'logs/run.log': 'log\n',
    'user_data/notes.db': 'mine\n',
    '.codemate-version': '2.0.0\n',
  });
  fs.chmodSync(target, 0o755);
  return { root, target, journal: journalPath, ids: { install, update, failed } };
}
