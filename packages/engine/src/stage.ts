/**
 * Staging: every new or changed file is written into <name>.staging (hashed while written, mode
 * set), verified against the manifest, and made durable by the phase's barrier (one syncfs, or an
 * fsync per file) before anything in the target changes. Failure here means the target was never
 * touched. A fresh install into a missing target stages the whole tree (it becomes the target by
 * one rename); an update stages flat: `<staging>/0000001`…, one file per changed entry.
 *
 * A file's bytes come from a source: a local path (copied) or an http(s) URL (downloaded through
 * the fetch package, streamed straight into the staged file). Either way a staged file is exactly
 * one filesystem mutation (one create-write-fsync through the seam), so crash points count the
 * same whatever the source; retries and resumes happen inside that one write. While the seam is
 * deterministic (fault injection on) downloads run one at a time.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TxnError, VERSION_FILE, isErrno, relAncestors, under, type FileEntry, type ManifestEntry } from '@codemate-txn/core';
import type { WriteResult } from '@codemate-txn/fsops';
import { createFetcher, fileUrlOf, isHttpUrl, type Fetcher } from '@codemate-txn/fetch';
import type { OpIntent } from '@codemate-txn/journal';
import type { EngineContext } from './context.js';
import type { Step } from './steps.js';

/** Where a file entry's bytes come from. */
export type Source = { kind: 'local'; path: string } | { kind: 'http'; url: string };

/** The source of a file entry: its own `url`, else `sourceBase/<path>` (URL-encoded per segment for HTTP). */
export function sourceOf(sourceBase: string, e: FileEntry): Source {
  if (e.url !== undefined) {
    if (isHttpUrl(e.url)) return { kind: 'http', url: e.url };
    if (e.url.startsWith('file:')) return { kind: 'local', path: fileURLToPath(e.url) };
    return { kind: 'local', path: path.resolve(path.dirname(sourceBase), e.url) };
  }
  if (isHttpUrl(sourceBase)) return { kind: 'http', url: fileUrlOf(sourceBase, e.path) };
  return { kind: 'local', path: under(sourceBase, e.path) };
}

const defaultFetchers = new WeakMap<EngineContext, Fetcher>();

function fetcherOf(ctx: EngineContext): Fetcher {
  if (ctx.fetcher) return ctx.fetcher;
  let f = defaultFetchers.get(ctx);
  if (f === undefined) {
    f = createFetcher(ctx.concurrency === undefined ? {} : { concurrency: ctx.concurrency });
    defaultFetchers.set(ctx, f);
  }
  return f;
}

const chains = new WeakMap<object, Promise<unknown>>();

/** Runs fn after every earlier fn queued on the same key has settled. */
function oneAtATime<T>(key: object, fn: () => Promise<T>): Promise<T> {
  const next = (chains.get(key) ?? Promise.resolve()).then(fn, fn);
  chains.set(key, next.catch(() => undefined));
  return next;
}

/** Byte progress of the downloads of one staging run, as `download` events (throttled). */
interface DownloadProgress {
  bytes(n: number): void;
  fileDone(): void;
}

function downloadProgress(ctx: EngineContext, files: FileEntry[]): DownloadProgress {
  const total = files.length;
  const totalBytes = files.reduce((n, e) => n + e.size, 0);
  let done = 0;
  let bytes = 0;
  let last = 0;
  const emit = (): void => ctx.onProgress?.({ phase: 'download', done, total, bytes, totalBytes });
  return {
    bytes(n) {
      bytes += n;
      const now = Date.now();
      if (now - last >= 100) {
        last = now;
        emit();
      }
    },
    fileDone() {
      done++;
      last = Date.now();
      emit();
    },
  };
}

export interface StagePlanInput {
  staging: string;
  sourceBase: string;
  entries: ManifestEntry[];
  versionText: string;
  /** Dir entries to create inside staging (a fresh root install places staging as the target). */
  dirEntries: Array<{ path: string; mode: number }>;
  /**
   * Flat staging (updates): entry path → its staged file name directly under the staging root,
   * so no directory tree is made, fsynced and removed again. Absent: staging mirrors the target.
   */
  flatNames?: ReadonlyMap<string, string>;
  /** Verified downloads an interrupted apply kept: sha256 → local file. Used instead of downloading. */
  resume?: ReadonlyMap<string, string>;
}

/** Where an entry is staged. */
export function stagedPathOf(input: Pick<StagePlanInput, 'staging' | 'flatNames'>, rel: string): string {
  const flat = input.flatNames?.get(rel);
  return flat === undefined ? under(input.staging, rel) : path.join(input.staging, flat);
}

/**
 * Steps that build the staging tree: `dirs` (root and directories, run first, one at a time), then
 * `files` (the version file, files and symlinks). The file steps are made as they are consumed,
 * so a 100k-file release never holds 100k steps in memory at once.
 */
export function stageSteps(ctx: EngineContext, input: StagePlanInput): { dirs: Step[]; files: Iterable<Step>; fileCount: number } {
  const fs = ctx.fs;
  const { staging } = input;
  const steps: Step[] = [];
  steps.push({
    intent: { phase: 'stage', kind: 'mkdir', action: 'staging-root', path: '', dst: staging, ftype: 'dir', mode: 0o700, undo: 'rmtree' },
    run: () => fs.mkdir(staging, 0o700),
  });
  const dirs = new Map<string, number>();
  for (const d of input.dirEntries) dirs.set(d.path, d.mode);
  if (!input.flatNames) for (const e of input.entries) for (const a of relAncestors(e.path)) if (!dirs.has(a)) dirs.set(a, 0o755);
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
  const version: Step = {
    intent: { phase: 'stage', kind: 'write', action: 'stage-version', path: VERSION_FILE, dst: vdst, ftype: 'file', size: Buffer.byteLength(vtext), mode: 0o644, undo: 'none' },
    run: () => void fs.writeFile(vdst, vtext, 0o644),
  };
  const fileCount = 1 + input.entries.reduce((n, e) => (e.type === 'file' || e.type === 'symlink' ? n + 1 : n), 0);
  return { dirs: steps, files: fileSteps(ctx, input, version), fileCount };
}

/** Whether sourceOf(sourceBase, e) is a download, without building its URL. */
function isDownload(sourceBase: string, e: FileEntry): boolean {
  return isHttpUrl(e.url ?? sourceBase);
}

/** The version file's step, then one step per file and symlink, made as they are consumed. */
function* fileSteps(ctx: EngineContext, input: StagePlanInput, first: Step): Generator<Step> {
  const fs = ctx.fs;
  const downloads = input.entries.filter((e): e is FileEntry => e.type === 'file' && isDownload(input.sourceBase, e));
  const progress = downloads.length > 0 ? downloadProgress(ctx, downloads) : undefined;
  yield first;
  for (const e of input.entries) {
    const dst = stagedPathOf(input, e.path);
    if (e.type === 'symlink') {
      const intent: OpIntent = { phase: 'stage', kind: 'symlink', action: 'stage', path: e.path, dst, ftype: 'symlink', linkTarget: e.target, undo: 'none' };
      yield { intent, run: () => fs.symlink(e.target, dst) };
    } else if (e.type === 'file') {
      let src = sourceOf(input.sourceBase, e);
      const kept = src.kind === 'http' ? input.resume?.get(e.sha256) : undefined;
      if (kept !== undefined) src = { kind: 'local', path: kept };
      const srcText = src.kind === 'http' ? src.url : src.path;
      const intent: OpIntent = { phase: 'stage', kind: 'write', action: 'stage', path: e.path, src: srcText, dst, ftype: 'file', size: e.size, sha256: e.sha256, mode: e.mode, undo: 'none' };
      const run = src.kind === 'http' ? () => stageDownload(ctx, e, src.url, dst, progress!) : () => stageCopy(ctx, e, src.path, dst);
      yield { intent, run };
    }
  }
}

async function stageCopy(ctx: EngineContext, e: FileEntry, src: string, dst: string): Promise<void> {
  let res;
  try {
    res = await ctx.fs.copyIn(src, dst, { maxSize: e.size, mode: e.mode, sync: false });
  } catch (err: unknown) {
    if (isErrno(err, 'ENOTREG')) {
      const kind = (err as { kind?: string }).kind ?? 'not a regular file';
      throw new TxnError('E_SOURCE_MISSING', `files entry "${e.path}": its bytes are not at the source; expected a regular file at ${src}, found ${kind}`, {
        hint: 'the release tree must hold plain files; republish it (manifest build refuses FIFOs, devices and sockets too)',
        details: { path: e.path, source: src, found: kind },
        cause: err,
      });
    }
    if (isErrno(err, 'ENOENT') && ctx.fs.lstat(src) === undefined) {
      throw new TxnError('E_SOURCE_MISSING', `files entry "${e.path}": its bytes are not at the source; expected a file at ${src}, found nothing`, {
        hint: 'check the manifest\'s "source" and that the release files were published with it',
        details: { path: e.path, source: src },
        cause: err,
      });
    }
    throw err;
  }
  verifyStaged(e, res, { from: `at ${src}`, source: src, found: 'found' });
}

/**
 * Downloads straight into the staged file. The fetcher enforces the size as bytes arrive (cut
 * off past it, short body, refused Content-Length) and names URL, path, expected and received;
 * the hash is checked here, over exactly the bytes written.
 */
async function stageDownload(ctx: EngineContext, e: FileEntry, url: string, dst: string, progress: DownloadProgress): Promise<void> {
  const chunks = fetcherOf(ctx).body(url, {
    expectedSize: e.size,
    label: `files entry "${e.path}"`,
    details: { path: e.path },
    onBytes: (n) => progress.bytes(n),
    ...(ctx.interrupted ? { interrupted: ctx.interrupted } : {}),
  });
  const write = (): Promise<WriteResult> => ctx.fs.streamIn(dst, chunks, { maxSize: e.size, mode: e.mode, sync: false });
  const res = ctx.fs.deterministic ? await oneAtATime(ctx.fs, write) : await write();
  progress.fileDone();
  verifyStaged(e, res, { from: `from GET ${url}`, source: url, found: 'received' });
}

function verifyStaged(e: FileEntry, res: WriteResult, where: { from: string; source: string; found: string }): void {
  const { from, source, found } = where;
  if (res.size !== e.size) {
    throw new TxnError('E_STAGE_VERIFY', `files entry "${e.path}": size mismatch; expected ${e.size} bytes, ${found} ${res.size > e.size ? `more than ${e.size}` : res.size} ${from}`, {
      hint: 'the release files do not match the manifest; rebuild the manifest or republish the files',
      details: { path: e.path, source, expected: e.size, found: res.size },
    });
  }
  if (res.sha256 !== e.sha256) {
    throw new TxnError('E_STAGE_VERIFY', `files entry "${e.path}": sha256 mismatch; expected ${e.sha256}, ${found} ${res.sha256} ${from}`, {
      hint: 'the release files do not match the manifest; rebuild the manifest or republish the files',
      details: { path: e.path, source, expected: e.sha256, found: res.sha256 },
    });
  }
}
