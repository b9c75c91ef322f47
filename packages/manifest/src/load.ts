/**
 * Reads a manifest from a local path or a `file:` URL and resolves where its bytes come from.
 * HTTP(S) manifests are fetched by another package, which then calls parseManifest and
 * resolveSourceBase itself; this module never touches the network.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TxnError, isErrno, errorMessage, type LoadedManifest } from '@codemate-txn/core';
import { parseManifest, DEFAULT_MAX_BYTES, type ParseOptions } from './parse.js';
import { sha256Hex } from './hash.js';
import { quote } from './schema.js';

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

export async function loadManifestFile(pathOrFileUrl: string, cwd: string, opts: ParseOptions = {}): Promise<LoadedManifest> {
  const location = toLocalPath(pathOrFileUrl, cwd);
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const bytes = await readCapped(location, maxBytes);
  const manifest = parseManifest(bytes, location, opts);
  return {
    manifest,
    sha256: sha256Hex(bytes),
    location,
    sourceBase: resolveSourceBase(manifest.source, location),
    bytes,
  };
}

/** The absolute path a manifest argument names (a path relative to cwd, or a `file:` URL). */
function toLocalPath(arg: string, cwd: string): string {
  const scheme = SCHEME.exec(arg)?.[1]?.toLowerCase();
  // One letter is a Windows drive ("C:\\m.json"), not a URL scheme.
  if (scheme === undefined || scheme.length === 1) return path.resolve(cwd, arg);
  if (scheme === 'file') {
    try {
      return fileURLToPath(arg);
    } catch (e: unknown) {
      throw new TxnError('E_MANIFEST_READ', `manifest ${quote(arg)}: a file: URL must name a local file, found an invalid URL (${errorMessage(e)})`, {
        hint: 'use file:///absolute/path/manifest.json or a plain path',
        cause: e,
        details: { path: arg },
      });
    }
  }
  throw new TxnError('E_MANIFEST_READ', `manifest ${quote(arg)}: this loader reads local paths and file: URLs, found a ${scheme}: URL`, {
    hint: scheme === 'http' || scheme === 'https' ? 'load HTTP manifests through the download package' : 'give a path or a file: URL',
    details: { path: arg },
  });
}

/**
 * Reads at most maxBytes + 1 bytes from one open descriptor: a manifest replaced by a huge file (or
 * a FIFO, or /dev/zero) after a size check cannot make us read without bound.
 */
async function readCapped(file: string, maxBytes: number): Promise<Buffer> {
  let fh: fs.promises.FileHandle | undefined;
  try {
    fh = await fs.promises.open(file, 'r');
    const st = await fh.stat();
    if (st.isDirectory()) {
      throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read '${file}'`), { code: 'EISDIR' });
    }
    const cap = Number.isFinite(maxBytes) ? maxBytes + 1 : Number.MAX_SAFE_INTEGER;
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const want = Math.min(1 << 20, cap - total);
      if (want <= 0) break;
      const buf = Buffer.allocUnsafe(want);
      const { bytesRead } = await fh.read(buf, 0, want, null);
      if (bytesRead === 0) break;
      chunks.push(buf.subarray(0, bytesRead));
      total += bytesRead;
    }
    // parseManifest reports E_MANIFEST_LIMIT when this is over the cap.
    return Buffer.concat(chunks, total);
  } catch (e: unknown) {
    if (!isErrno(e)) throw e;
    throw new TxnError('E_MANIFEST_READ', `manifest ${quote(file)}: the manifest must be a readable file, found ${e.code} (${errorMessage(e)})`, {
      hint: e.code === 'ENOENT' ? 'check the manifest path' : 'check the path and its permissions',
      cause: e,
      details: { path: file, errno: e.code },
    });
  } finally {
    await fh?.close();
  }
}

/**
 * Where the files' bytes are: an absolute directory (a relative `source` is taken from the
 * manifest's own directory, as DESIGN §3 says) or an http(s) URL ending in '/' so that
 * `new URL(encodedPath, base)` appends rather than replaces the last segment.
 */
export function resolveSourceBase(source: string, manifestLocation: string): string {
  const scheme = SCHEME.exec(source)?.[1]?.toLowerCase();
  const isPath = scheme === undefined || scheme.length === 1 || path.isAbsolute(source);
  if (isPath && !/^https?:/i.test(manifestLocation)) {
    return path.resolve(path.dirname(manifestLocation), source);
  }
  if (scheme === 'file') {
    try {
      return path.resolve(fileURLToPath(source));
    } catch (e: unknown) {
      throw badSource(source, `an invalid file: URL (${errorMessage(e)})`, e);
    }
  }
  if (isPath || scheme === 'http' || scheme === 'https') {
    let url: URL;
    try {
      // A relative source of a manifest fetched over HTTP is relative to the manifest's URL.
      url = new URL(source, isPath ? manifestLocation : undefined);
    } catch (e: unknown) {
      throw badSource(source, 'an invalid URL', e);
    }
    // File URLs are made by appending each path to this base; a query or fragment cannot survive that.
    if (url.search !== '' || url.hash !== '') throw badSource(source, 'a URL with a query or fragment');
    if (!url.pathname.endsWith('/')) url.pathname = `${url.pathname}/`;
    return url.href;
  }
  throw badSource(source, `a ${scheme ?? ''}: URL`);
}

function badSource(source: string, found: string, cause?: unknown): TxnError {
  return new TxnError('E_MANIFEST_SCHEMA', `manifest field "source" ${quote(source)}: must be a relative path, a file: URL or an http(s): URL, found ${found}`, {
    hint: 'fix "source" in the manifest',
    ...(cause === undefined ? {} : { cause }),
    details: { field: 'source', found: source },
  });
}
