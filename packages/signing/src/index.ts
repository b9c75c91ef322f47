/** @codemate-txn/signing: ed25519 keys (PEM), detached manifest signatures over exact bytes. */
export { generateKeyPair, keyIdOf, parsePublicKey, parsePrivateKey } from './keys.js';
export type { KeyPairPem } from './keys.js';
export { signBytes, parseSignature, verifyBytes, SIGNATURE_SUFFIX, MAX_SIGNATURE_BYTES } from './signature.js';
export type { ParsedSignature, SignatureOrigin } from './signature.js';
export { writeKeyPair, readPublicKey, readPrivateKey, signManifestFile, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE } from './key-files.js';
export type { KeygenResult, SignResult } from './key-files.js';
