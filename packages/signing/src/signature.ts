/**
 * Detached manifest signatures. A `.sig` file is one line of text:
 *
 *   ed25519 <key id> <base64 of the 64-byte signature>
 *
 * The signature is over the manifest's exact bytes (no parsing, no canonical form: what was
 * signed is byte for byte what is parsed). The key id is unauthenticated and only serves the
 * message: "signed by another key" reads better than "bad signature" when keys were mixed up.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { TxnError } from '@codemate-txn/core';
import { keyIdOf } from './keys.js';

export const SIGNATURE_SUFFIX = '.sig';
/** Largest signature file read; a real one is about 110 bytes. */
export const MAX_SIGNATURE_BYTES = 4096;

const LINE = /^ed25519 ([0-9a-f]{16}) ([A-Za-z0-9+/]{86}==)$/;

export interface ParsedSignature {
  keyId: string;
  signature: Buffer;
}

/** Where a manifest and its signature came from (paths or URLs), for messages. */
export interface SignatureOrigin {
  manifest: string;
  signature: string;
}

/** The `.sig` file text for these bytes. */
export function signBytes(bytes: Buffer, privateKey: KeyObject): string {
  const sig = sign(null, bytes, privateKey);
  return `ed25519 ${keyIdOf(privateKey)} ${sig.toString('base64')}\n`;
}

export function parseSignature(text: Buffer, where: string): ParsedSignature {
  const line = text.length > MAX_SIGNATURE_BYTES ? undefined : text.toString('utf8').trim();
  const m = line === undefined ? null : LINE.exec(line);
  if (m === null) {
    const found = line === undefined ? `${text.length} bytes` : JSON.stringify(line.length > 60 ? `${line.slice(0, 60)}…` : line);
    throw new TxnError('E_SIGNATURE', `signature ${where}: expected one line "ed25519 <key id> <base64 signature>", found ${found}`, {
      hint: 'sign the manifest again with `codemate-txn sign <manifest> --key private.pem`',
      details: { signature: where },
    });
  }
  return { keyId: m[1]!, signature: Buffer.from(m[2]!, 'base64') };
}

/**
 * Checks that `sigText` is a valid signature of `bytes` by `publicKey`; `sigText` undefined means
 * the manifest has no signature. Returns the key id; throws E_SIGNATURE naming what is wrong.
 */
export function verifyBytes(bytes: Buffer, sigText: Buffer | undefined, publicKey: KeyObject, origin: SignatureOrigin): { keyId: string } {
  const expected = keyIdOf(publicKey);
  if (sigText === undefined) {
    throw new TxnError('E_SIGNATURE', `manifest ${origin.manifest} is not signed: expected a signature by key ${expected} at ${origin.signature}, found none`, {
      hint: 'a public key is configured, so only signed manifests are applied; ask the publisher for the signed release (`codemate-txn sign`)',
      details: { manifest: origin.manifest, signature: origin.signature, expectedKey: expected },
    });
  }
  const parsed = parseSignature(sigText, origin.signature);
  if (verify(null, bytes, publicKey, parsed.signature)) return { keyId: expected };
  if (parsed.keyId !== expected) {
    throw new TxnError('E_SIGNATURE', `manifest ${origin.manifest} is signed by another key: expected key ${expected}, found a signature by key ${parsed.keyId} in ${origin.signature}`, {
      hint: 'the release was signed with a key you do not trust; check --public-key (or CODEMATE_TXN_PUBLIC_KEY) and where the release came from',
      details: { manifest: origin.manifest, signature: origin.signature, expectedKey: expected, foundKey: parsed.keyId },
    });
  }
  throw new TxnError('E_SIGNATURE', `manifest ${origin.manifest}: the signature in ${origin.signature} does not match the manifest's bytes (key ${expected}): the manifest or its signature was changed after signing`, {
    hint: 'do not apply this release; fetch it again from the publisher, who can re-sign it with `codemate-txn sign`',
    details: { manifest: origin.manifest, signature: origin.signature, expectedKey: expected },
  });
}
