/**
 * A manifest from a path, a file: URL or an http(s) URL, checked in the order that lets nothing
 * untrusted through: read the bytes once (capped), verify the detached signature over exactly
 * those bytes when a public key is configured, then parse them, then refuse an expired manifest.
 * No download of release files and no journal write happens before this returns.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KeyObject } from 'node:crypto';
import { TxnError, errorMessage, isErrno, isTxnError, type LoadedManifest, type Manifest } from '@codemate-txn/core';
import { parseManifest, resolveSourceBase, sha256Hex, type ParseOptions } from '@codemate-txn/manifest';
import { MAX_SIGNATURE_BYTES, SIGNATURE_SUFFIX, verifyBytes } from '@codemate-txn/signing';
import type { Fetcher } from './fetcher.js';
import { isHttpUrl, siblingUrl } from './source-url.js';

export const DEFAULT_MANIFEST_MAX_BYTES = 64 * 1024 * 1024;

export interface LoadManifestOptions extends ParseOptions {
  /** Base of a relative manifest path. Default process.cwd(). */
  cwd?: string;
  /** Required for http(s) manifests. */
  fetcher?: Fetcher;
  /** When set, `<manifest>.sig` must be a valid signature by this key (else E_SIGNATURE). */
  publicKey?: KeyObject;
  /** The clock `expires` is compared with. */
  now?: () => Date;
  /**
   * Says whether bytes with this sha256 already passed every check in this version of the code
   * (engine's knownValidManifest: the installed transaction's manifest); they are then parsed
   * without the schema and path-rule passes (ParseOptions.knownValid).
   */
  isKnownValid?: (sha256: string) => boolean;
}

/** A loaded manifest plus the key id that signed it (null when no key was configured). */
export interface LoadedRelease extends LoadedManifest {
  signedBy: string | null;
}

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

/** Loads, verifies and parses a manifest; see the module comment for the order. */
export async function loadManifest(arg: string, opts: LoadManifestOptions = {}): Promise<LoadedRelease> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MANIFEST_MAX_BYTES;
  let bytes: Buffer;
  let location: string;
  let sigText: Buffer | undefined;
  let sigLocation: string;
  if (isHttpUrl(arg)) {
    const fetcher = needFetcher(opts.fetcher, arg);
    const doc = await fetcher.getBytes(arg, { maxBytes, label: 'manifest', clientErrorCode: 'E_MANIFEST_READ' });
    bytes = doc.bytes;
    // Relative sources and the signature are found beside the document actually served.
    location = doc.url;
    sigLocation = siblingUrl(location, SIGNATURE_SUFFIX);
    if (opts.publicKey) {
      const sig = await fetcher.getBytes(sigLocation, { maxBytes: MAX_SIGNATURE_BYTES, label: 'signature', allowMissing: true, clientErrorCode: 'E_SIGNATURE' });
      sigText = sig?.bytes;
    }
  } else {
    location = localPath(arg, opts.cwd ?? process.cwd());
    bytes = await readCapped(location, maxBytes, 'manifest', 'E_MANIFEST_READ');
    sigLocation = location + SIGNATURE_SUFFIX;
    if (opts.publicKey) sigText = await readOptional(sigLocation);
  }
  const signedBy = opts.publicKey ? verifyBytes(bytes, sigText, opts.publicKey, { manifest: location, signature: sigLocation }).keyId : null;

  const sha256 = sha256Hex(bytes);
  const knownValid = opts.isKnownValid?.(sha256) === true;
  const manifest = parseManifest(bytes, location, { ...opts, knownValid });
  checkExpiry(manifest, location, (opts.now ?? (() => new Date()))());
  const sourceBase = resolveSourceBase(manifest.source, location);
  if (isHttpUrl(location)) refuseLocalBytes(manifest, sourceBase, location);
  return { manifest, sha256, location, sourceBase, bytes, signedBy, knownValid };
}

function needFetcher(f: Fetcher | undefined, url: string): Fetcher {
  if (f === undefined) throw new TxnError('E_INTERNAL', `loading ${url} needs a fetcher; none was given`);
  return f;
}

/**
 * When the manifest expires: a date-time is that instant; a bare date (2030-01-31) is valid
 * through the end of that day, UTC.
 */
export function expiryOf(expires: string): Date {
  const t = Date.parse(expires);
  return new Date(/^\d{4}-\d{2}-\d{2}$/.test(expires) ? t + 24 * 3600 * 1000 : t);
}

function checkExpiry(m: Manifest, location: string, now: Date): void {
  if (m.expires === undefined) return;
  const at = expiryOf(m.expires);
  if (now.getTime() < at.getTime()) return;
  throw new TxnError('E_MANIFEST_EXPIRED', `manifest ${location} (${m.app} ${m.version}) expired at ${at.toISOString()} ("expires": "${m.expires}"); now is ${now.toISOString()}`, {
    hint: 'an expired manifest may be an old release replayed to keep you from updating (freeze attack); ask the publisher for a fresh manifest',
    details: { manifest: location, expires: m.expires, expiredAt: at.toISOString(), now: now.toISOString() },
  });
}

/** A manifest served over HTTP names only http(s) bytes: a server must not make us copy local files. */
function refuseLocalBytes(m: Manifest, sourceBase: string, location: string): void {
  const bad = !isHttpUrl(sourceBase) ? { what: '"source"', value: m.source } : undefined;
  const entry = m.files.find((e) => e.type === 'file' && e.url !== undefined && !isHttpUrl(e.url));
  const found = bad ?? (entry && entry.type === 'file' ? { what: `files entry "${entry.path}" "url"`, value: entry.url ?? '' } : undefined);
  if (found === undefined) return;
  throw new TxnError('E_MANIFEST_SCHEMA', `manifest ${location}: ${found.what} must be an http(s) URL or a relative path in a manifest fetched over HTTP, found ${JSON.stringify(found.value)}`, {
    hint: 'a remote manifest may not point at local files; publish the files beside the manifest',
    details: { manifest: location, field: found.what, found: found.value },
  });
}

/** The absolute path an argument names: a path relative to cwd, or a file: URL. */
export function localPath(arg: string, cwd: string): string {
  const scheme = SCHEME.exec(arg)?.[1]?.toLowerCase();
  if (scheme === undefined || scheme.length === 1) return path.resolve(cwd, arg);
  if (scheme === 'file') {
    try {
      return fileURLToPath(arg);
    } catch (e: unknown) {
      throw new TxnError('E_MANIFEST_READ', `${JSON.stringify(arg)}: a file: URL must name a local file, found an invalid URL (${errorMessage(e)})`, {
        hint: 'use file:///absolute/path or a plain path',
        cause: e,
        details: { path: arg },
      });
    }
  }
  throw new TxnError('E_MANIFEST_READ', `${JSON.stringify(arg)}: expected a path, a file: URL or an http(s) URL, found a ${scheme}: URL`, {
    hint: 'give a path, a file: URL or an http(s) URL',
    details: { path: arg },
  });
}

/** Reads at most maxBytes + 1 bytes of a local file through one descriptor. */
export async function readCapped(file: string, maxBytes: number, what: string, code: 'E_MANIFEST_READ'): Promise<Buffer> {
  let fh: fs.promises.FileHandle | undefined;
  try {
    fh = await fs.promises.open(file, 'r');
    if ((await fh.stat()).isDirectory()) {
      throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read '${file}'`), { code: 'EISDIR' });
    }
    const cap = maxBytes + 1;
    const chunks: Buffer[] = [];
    let total = 0;
    while (total < cap) {
      const buf = Buffer.allocUnsafe(Math.min(1 << 20, cap - total));
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      chunks.push(buf.subarray(0, bytesRead));
      total += bytesRead;
    }
    return Buffer.concat(chunks, total);
  } catch (e: unknown) {
    if (isTxnError(e) || !isErrno(e)) throw e;
    throw new TxnError(code, `${what} ${file}: expected a readable file, found ${e.code} (${errorMessage(e)})`, {
      hint: e.code === 'ENOENT' ? `check the ${what} path` : 'check the path and its permissions',
      cause: e,
      details: { path: file, errno: e.code },
    });
  } finally {
    await fh?.close();
  }
}

/** A small optional file (a signature): undefined when absent. */
async function readOptional(file: string): Promise<Buffer | undefined> {
  try {
    return await readCapped(file, MAX_SIGNATURE_BYTES, 'signature', 'E_MANIFEST_READ');
  } catch (e: unknown) {
    if (isTxnError(e) && e.facts.errno === 'ENOENT') return undefined;
    if (isTxnError(e)) throw new TxnError('E_SIGNATURE', e.message, { hint: e.hint ?? '', cause: e, details: e.facts });
    throw e;
  }
}
