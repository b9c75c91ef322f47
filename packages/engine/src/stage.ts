/**
 * Staging: every new or changed file is copied into <name>.staging (hashed while written, fsynced,
 * mode set), then verified against the manifest before anything in the target changes. Failure
 * here means the target was never touched.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TxnError, VERSION_FILE, isErrno, relAncestors, under, type FileEntry, type ManifestEntry } from '@codemate-txn/core';
import type { OpIntent } from '@codemate-txn/journal';
import type { EngineContext } from './context.js';
import type { Step } from './steps.js';

/** Absolute local path of a file entry's bytes. */
export function sourcePathOf(sourceBase: string, e: FileEntry): string {
  if (e.url !== undefined) {
    if (e.url.startsWith('file:')) return fileURLToPath(e.url);
    if (/^https?:/.test(e.url)) {
      throw new TxnError('E_SOURCE_MISSING', `files entry "${e.path}": HTTP(S) sources are not supported by this build; found url ${e.url}`, {
        hint: 'use a local path or file: URL source',
      });
    }
    return path.resolve(path.dirname(sourceBase), e.url);
  }
  if (/^https?:/.test(sourceBase)) {
    throw new TxnError('E_SOURCE_MISSING', `HTTP(S) sources are not supported by this build; found source ${sourceBase}`, {
      hint: 'use a local path or file: URL source',
    });
  }
  return under(sourceBase, e.path);
}

export interface StagePlanInput {
  staging: string;
  sourceBase: string;
  entries: ManifestEntry[];
  versionText: string;
  /** Dir entries to create inside staging (a fresh root install places staging as the target). */
  dirEntries: Array<{ path: string; mode: number }>;
}

/** Steps that build the staging tree: root, directories, files, symlinks, the version file. */
export function stageSteps(ctx: EngineContext, input: StagePlanInput): Step[] {
  const fs = ctx.fs;
  const { staging } = input;
  const steps: Step[] = [];
  steps.push({
    intent: { phase: 'stage', kind: 'mkdir', action: 'staging-root', path: '', dst: staging, ftype: 'dir', mode: 0o700, undo: 'rmtree' },
    run: () => fs.mkdir(staging, 0o700),
  });
  const dirs = new Map<string, number>();
  for (const d of input.dirEntries) dirs.set(d.path, d.mode);
  for (const e of input.entries) for (const a of relAncestors(e.path)) if (!dirs.has(a)) dirs.set(a, 0o755);
  const ordered = [...dirs.entries()].sort((a, b) => a[0].split('/').length - b[0].split('/').length || (a[0] < b[0] ? -1 : 1));
  for (const [rel, mode] of ordered) {
    const dst = under(staging, rel);
    steps.push({
      intent: { phase: 'stage', kind: 'mkdir', action: 'stage-dir', path: rel, dst, ftype: 'dir', mode, undo: 'none' },
      run: () => fs.mkdir(dst, mode),
    });
  }
  const vdst = under(staging, VERSION_FILE);
  const vtext = input.versionText;
  steps.push({
    intent: { phase: 'stage', kind: 'write', action: 'stage-version', path: VERSION_FILE, dst: vdst, ftype: 'file', size: Buffer.byteLength(vtext), mode: 0o644, undo: 'none' },
    run: () => void fs.writeFile(vdst, vtext, 0o644),
  });
  return steps.concat(fileSteps(ctx, input));
}

function fileSteps(ctx: EngineContext, input: StagePlanInput): Step[] {
  const fs = ctx.fs;
  const out: Step[] = [];
  for (const e of input.entries) {
    const dst = under(input.staging, e.path);
    if (e.type === 'symlink') {
      const intent: OpIntent = { phase: 'stage', kind: 'symlink', action: 'stage', path: e.path, dst, ftype: 'symlink', linkTarget: e.target, undo: 'none' };
      out.push({ intent, run: () => fs.symlink(e.target, dst) });
    } else if (e.type === 'file') {
      const src = sourcePathOf(input.sourceBase, e);
      const intent: OpIntent = { phase: 'stage', kind: 'write', action: 'stage', path: e.path, src, dst, ftype: 'file', size: e.size, sha256: e.sha256, mode: e.mode, undo: 'none' };
      out.push({ intent, run: () => stageFile(ctx, e, src, dst) });
    }
  }
  return out;
}

async function stageFile(ctx: EngineContext, e: FileEntry, src: string, dst: string): Promise<void> {
  let res;
  try {
    res = await ctx.fs.copyIn(src, dst, { maxSize: e.size, mode: e.mode });
  } catch (err: unknown) {
    if (isErrno(err, 'ENOENT') && ctx.fs.lstat(src) === undefined) {
      throw new TxnError('E_SOURCE_MISSING', `files entry "${e.path}": its bytes are not at the source; expected a file at ${src}, found nothing`, {
        hint: 'check the manifest\'s "source" and that the release files were published with it',
        details: { path: e.path, source: src },
        cause: err,
      });
    }
    throw err;
  }
  if (res.size !== e.size) {
    throw new TxnError('E_STAGE_VERIFY', `files entry "${e.path}": size mismatch; expected ${e.size} bytes, found ${res.size > e.size ? `more than ${e.size}` : res.size} at ${src}`, {
      hint: 'the release files do not match the manifest; rebuild the manifest or republish the files',
      details: { path: e.path, expected: e.size, found: res.size },
    });
  }
  if (res.sha256 !== e.sha256) {
    throw new TxnError('E_STAGE_VERIFY', `files entry "${e.path}": sha256 mismatch; expected ${e.sha256}, found ${res.sha256} at ${src}`, {
      hint: 'the release files do not match the manifest; rebuild the manifest or republish the files',
      details: { path: e.path, expected: e.sha256, found: res.sha256 },
    });
  }
}
