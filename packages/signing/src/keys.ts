/**
 * ed25519 keys as PEM (PKCS#8 private, SPKI public), through node:crypto only. A key id is the
 * first 16 hex digits of the sha256 of the public key's SPKI bytes: short enough to read out,
 * long enough that two real keys never share one. It names keys in messages; trust comes from
 * the signature alone.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { TxnError, errorMessage } from '@codemate-txn/core';

export interface KeyPairPem {
  privateKeyPem: string;
  publicKeyPem: string;
  keyId: string;
}

export function generateKeyPair(): KeyPairPem {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyIdOf(publicKey),
  };
}

/** The key id of a public key (or of the public half of a private key). */
export function keyIdOf(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/** Parses an ed25519 public key from PEM; `where` names its origin in the error (a file, an env variable). */
export function parsePublicKey(pem: string | Buffer, where: string): KeyObject {
  let key: KeyObject;
  try {
    // A private key PEM is accepted too: its public half is what verifies.
    key = createPublicKey(pem);
  } catch (e: unknown) {
    throw new TxnError('E_USAGE', `public key ${where}: expected an ed25519 public key in PEM ("-----BEGIN PUBLIC KEY-----"), found something else (${errorMessage(e)})`, {
      hint: 'pass the public.pem written by `codemate-txn keygen`',
      cause: e,
      details: { key: where },
    });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new TxnError('E_USAGE', `public key ${where}: expected an ed25519 key, found ${key.asymmetricKeyType ?? 'an unknown'} key`, {
      hint: 'codemate-txn signatures are ed25519; make a key pair with `codemate-txn keygen`',
      details: { key: where, found: key.asymmetricKeyType },
    });
  }
  return key;
}

/** Parses an ed25519 private key from PEM. */
export function parsePrivateKey(pem: string | Buffer, where: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (e: unknown) {
    throw new TxnError('E_USAGE', `private key ${where}: expected an ed25519 private key in PEM ("-----BEGIN PRIVATE KEY-----"), found something else (${errorMessage(e)})`, {
      hint: 'pass the private.pem written by `codemate-txn keygen`',
      cause: e,
      details: { key: where },
    });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new TxnError('E_USAGE', `private key ${where}: expected an ed25519 key, found ${key.asymmetricKeyType ?? 'an unknown'} key`, {
      hint: 'codemate-txn signatures are ed25519; make a key pair with `codemate-txn keygen`',
      details: { key: where, found: key.asymmetricKeyType },
    });
  }
  return key;
}
