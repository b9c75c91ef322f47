/**
 * Key and signature files on disk. Not part of any transaction, so they do not go through the
 * engine's filesystem seam; each is still written atomically (temp sibling, fsync, rename, fsync
 * of the directory), and a private key is created 0600 from the first byte, never chmodded later.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes, type KeyObject } from 'node:crypto';
import { TxnError, errorMessage, isErrno, isTxnError } from '@codemate-txn/core';
import { generateKeyPair, parsePrivateKey, parsePublicKey } from './keys.js';
import { SIGNATURE_SUFFIX, signBytes } from './signature.js';

export const PRIVATE_KEY_FILE = 'private.pem';
export const PUBLIC_KEY_FILE = 'public.pem';

export interface KeygenResult {
  privateKeyPath: string;
  publicKeyPath: string;
  keyId: string;
}

export interface SignResult {
  manifest: string;
  signaturePath: string;
  keyId: string;
  manifestBytes: number;
}

/** A sibling temp name; pure, so a crash leaves a recognisable `.tmp-` file and nothing else. */
export function tempSibling(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

function writeAtomic(file: string, data: string, mode: number, replace: boolean): void {
  const tmp = tempSibling(file);
  const fd = fs.openSync(tmp, 'wx', mode);
  try {
    fs.writeSync(fd, data);
    fs.fchmodSync(fd, mode);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    if (replace) fs.renameSync(tmp, file);
    else {
      // link() never replaces: a key that appeared meanwhile is not clobbered.
      fs.linkSync(tmp, file);
      fs.unlinkSync(tmp);
    }
  } catch (e: unknown) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  const dfd = fs.openSync(path.dirname(file), 'r');
  try {
    fs.fsyncSync(dfd);
  } catch (e: unknown) {
    if (!isErrno(e, 'EINVAL', 'EISDIR', 'EBADF')) throw e;
  } finally {
    fs.closeSync(dfd);
  }
}

/** Writes a new key pair into dir (made 0700 if missing): private.pem 0600, public.pem 0644. */
export function writeKeyPair(dir: string, opts: { force?: boolean } = {}): KeygenResult {
  const privateKeyPath = path.resolve(dir, PRIVATE_KEY_FILE);
  const publicKeyPath = path.resolve(dir, PUBLIC_KEY_FILE);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!opts.force) {
      for (const p of [privateKeyPath, publicKeyPath]) {
        if (fs.existsSync(p)) {
          throw new TxnError('E_USAGE', `keygen: refusing to overwrite ${p}: expected no key file there, found one`, {
            hint: 'choose another --out directory, or pass --force to replace the key pair (signatures made with the old key stop verifying)',
            details: { path: p },
          });
        }
      }
    }
    const pair = generateKeyPair();
    writeAtomic(privateKeyPath, pair.privateKeyPem, 0o600, opts.force === true);
    writeAtomic(publicKeyPath, pair.publicKeyPem, 0o644, opts.force === true);
    return { privateKeyPath, publicKeyPath, keyId: pair.keyId };
  } catch (e: unknown) {
    throw fileError(e, 'keygen', dir);
  }
}

/**
 * The public key named by a file path, or given inline as PEM text (handy in an environment
 * variable); `origin` names where the value came from in messages.
 */
export function readPublicKey(fileOrPem: string, origin = fileOrPem): KeyObject {
  if (fileOrPem.trimStart().startsWith('-----BEGIN')) return parsePublicKey(fileOrPem, origin);
  return parsePublicKey(readKeyFile(fileOrPem, 'public key'), origin);
}

export function readPrivateKey(file: string): KeyObject {
  return parsePrivateKey(readKeyFile(file, 'private key'), file);
}

function readKeyFile(file: string, what: string): Buffer {
  try {
    const st = fs.statSync(file);
    if (!st.isFile() || st.size > 64 * 1024) {
      throw new TxnError('E_USAGE', `${what} ${file}: expected a PEM file, found ${st.isFile() ? `${st.size} bytes` : 'a non-file'}`, { details: { key: file } });
    }
    return fs.readFileSync(file);
  } catch (e: unknown) {
    // TxnError has a string `code` too: only real errno errors are rewrapped.
    if (isTxnError(e) || !isErrno(e)) throw e;
    throw new TxnError('E_USAGE', `${what} ${file}: cannot be read (${errorMessage(e)})`, {
      hint: e.code === 'ENOENT' ? 'check the key path' : 'check the key path and its permissions',
      cause: e,
      details: { key: file, errno: e.code },
    });
  }
}

/**
 * Signs a manifest file's exact bytes and writes `<manifest>.sig` (replacing an older one).
 * `check` sees the bytes first and may throw (the CLI refuses to sign an invalid manifest).
 */
export function signManifestFile(manifest: string, keyFile: string, check?: (bytes: Buffer, location: string) => void): SignResult {
  const key = readPrivateKey(keyFile);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(manifest);
  } catch (e: unknown) {
    if (!isErrno(e)) throw e;
    throw new TxnError('E_MANIFEST_READ', `sign: manifest ${manifest} cannot be read (${errorMessage(e)})`, {
      hint: 'check the manifest path',
      cause: e,
      details: { path: manifest, errno: e.code },
    });
  }
  check?.(bytes, manifest);
  const signaturePath = manifest + SIGNATURE_SUFFIX;
  const text = signBytes(bytes, key);
  try {
    writeAtomic(signaturePath, text, 0o644, true);
  } catch (e: unknown) {
    throw fileError(e, 'sign', signaturePath);
  }
  return { manifest, signaturePath, keyId: text.split(' ')[1]!, manifestBytes: bytes.length };
}

function fileError(e: unknown, what: string, where: string): unknown {
  if (isTxnError(e) || !isErrno(e)) return e;
  return new TxnError('E_FS', `${what}: cannot write ${e.path ?? where} (${e.code}: ${errorMessage(e)})`, {
    hint: 'check that the directory exists and is writable',
    cause: e,
    details: { path: e.path ?? where, errno: e.code },
  });
}
