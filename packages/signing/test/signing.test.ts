import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TxnError, isTxnError } from '@codemate-txn/core';
import {
  generateKeyPair,
  keyIdOf,
  parsePublicKey,
  parsePrivateKey,
  parseSignature,
  readPublicKey,
  signBytes,
  signManifestFile,
  verifyBytes,
  writeKeyPair,
} from '@codemate-txn/signing';
import { tempDir, cleanupTemps } from '@codemate-txn/testkit';

test.after(cleanupTemps);

function thrown(fn: () => unknown): TxnError {
  try {
    fn();
  } catch (e: unknown) {
    if (isTxnError(e)) return e;
    throw e;
  }
  throw new Error('expected a TxnError');
}

const origin = { manifest: 'm.json', signature: 'm.json.sig' };
const BYTES = Buffer.from('{"schemaVersion":1}\n');

test('sign then verify: the key id comes back; the .sig is one line', () => {
  const pair = generateKeyPair();
  const text = signBytes(BYTES, parsePrivateKey(pair.privateKeyPem, 'k'));
  assert.match(text, new RegExp(`^ed25519 ${pair.keyId} [A-Za-z0-9+/]{86}==\\n$`));
  const pub = parsePublicKey(pair.publicKeyPem, 'pub');
  assert.equal(verifyBytes(BYTES, Buffer.from(text), pub, origin), { keyId: pair.keyId });
  assert.is(keyIdOf(pub), pair.keyId);
});

test('unsigned, tampered manifest, tampered signature, other key: each E_SIGNATURE with its own message', () => {
  const a = generateKeyPair();
  const b = generateKeyPair();
  const pubA = parsePublicKey(a.publicKeyPem, 'a');
  const sigA = signBytes(BYTES, parsePrivateKey(a.privateKeyPem, 'a'));

  const none = thrown(() => verifyBytes(BYTES, undefined, pubA, origin));
  assert.is(none.code, 'E_SIGNATURE');
  assert.match(none.message, 'is not signed');
  assert.match(none.message, a.keyId);

  const tampered = thrown(() => verifyBytes(Buffer.from('{"schemaVersion":2}\n'), Buffer.from(sigA), pubA, origin));
  assert.match(tampered.message, "does not match the manifest's bytes");

  const parts = sigA.trim().split(' ');
  const raw = Buffer.from(parts[2]!, 'base64');
  raw[0] = raw[0]! ^ 1;
  const badSig = `${parts[0]} ${parts[1]} ${raw.toString('base64')}\n`;
  assert.match(thrown(() => verifyBytes(BYTES, Buffer.from(badSig), pubA, origin)).message, "does not match the manifest's bytes");

  const sigB = signBytes(BYTES, parsePrivateKey(b.privateKeyPem, 'b'));
  const other = thrown(() => verifyBytes(BYTES, Buffer.from(sigB), pubA, origin));
  assert.match(other.message, 'signed by another key');
  assert.match(other.message, `expected key ${a.keyId}, found a signature by key ${b.keyId}`);
  assert.is(other.exitCode, 2);
});

test('a malformed signature file is refused, naming what was found', () => {
  const e = thrown(() => parseSignature(Buffer.from('hello'), 'x.sig'));
  assert.is(e.code, 'E_SIGNATURE');
  assert.match(e.message, 'expected one line "ed25519 <key id> <base64 signature>", found "hello"');
  assert.is(thrown(() => parseSignature(Buffer.alloc(5000, 0x41), 'x.sig')).code, 'E_SIGNATURE');
});

test('keys: RSA refused, garbage refused (E_USAGE), a private key PEM verifies as its public half', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  assert.match(thrown(() => parsePublicKey(rsa, 'rsa.pem')).message, 'expected an ed25519 key, found rsa key');
  assert.is(thrown(() => parsePublicKey('nope', 'x.pem')).code, 'E_USAGE');
  const pair = generateKeyPair();
  assert.is(keyIdOf(parsePublicKey(pair.privateKeyPem, 'priv')), pair.keyId);
});

test('writeKeyPair: private 0600, public 0644, refuses to overwrite unless forced', () => {
  const dir = path.join(tempDir(), 'keys');
  const r = writeKeyPair(dir);
  assert.is(fs.statSync(r.privateKeyPath).mode & 0o777, 0o600);
  assert.is(fs.statSync(r.publicKeyPath).mode & 0o777, 0o644);
  assert.is(keyIdOf(readPublicKey(r.publicKeyPath)), r.keyId);
  assert.equal(fs.readdirSync(dir).sort(), ['private.pem', 'public.pem']);
  const e = thrown(() => writeKeyPair(dir));
  assert.is(e.code, 'E_USAGE');
  assert.match(e.message, 'refusing to overwrite');
  const r2 = writeKeyPair(dir, { force: true });
  assert.is.not(r2.keyId, r.keyId);
  assert.equal(fs.readdirSync(dir).sort(), ['private.pem', 'public.pem'], 'no temp files left');
});

test('readPublicKey takes inline PEM (an environment variable) as well as a path', () => {
  const pair = generateKeyPair();
  assert.is(keyIdOf(readPublicKey(pair.publicKeyPem, 'CODEMATE_TXN_PUBLIC_KEY')), pair.keyId);
  const e = thrown(() => readPublicKey('/nonexistent/public.pem'));
  assert.is(e.code, 'E_USAGE');
  assert.match(e.message, 'ENOENT');
});

test('signManifestFile signs the exact bytes, writes <manifest>.sig, runs the check first', () => {
  const dir = tempDir();
  const keys = writeKeyPair(path.join(dir, 'k'));
  const m = path.join(dir, 'manifest.json');
  fs.writeFileSync(m, BYTES);
  const r = signManifestFile(m, keys.privateKeyPath);
  assert.is(r.signaturePath, `${m}.sig`);
  assert.is(r.keyId, keys.keyId);
  verifyBytes(fs.readFileSync(m), fs.readFileSync(r.signaturePath), readPublicKey(keys.publicKeyPath), origin);
  const e = thrown(() =>
    signManifestFile(m, keys.privateKeyPath, () => {
      throw new TxnError('E_MANIFEST_SCHEMA', 'bad');
    }),
  );
  assert.is(e.code, 'E_MANIFEST_SCHEMA');
  assert.is(thrown(() => signManifestFile(m, keys.publicKeyPath)).code, 'E_USAGE', 'a public key cannot sign');
});

test.run();
