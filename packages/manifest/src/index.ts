/** @codemate-txn/manifest: parse, validate, build and serialize release manifests; path rules; preserve patterns. */
export { MANIFEST_SCHEMA } from './schema.js';
export { parseManifest } from './parse.js';
export type { ParseOptions } from './parse.js';
export { checkPaths } from './path-rules.js';
export { DEFAULT_PRESERVE, makePreserveMatcher } from './preserve.js';
export type { PreserveMatcher, PreserveOptions } from './preserve.js';
export { buildManifest } from './build.js';
export type { BuildOptions } from './build.js';
export { serializeManifest } from './serialize.js';
export { sha256Hex } from './hash.js';
export { loadManifestFile, resolveSourceBase } from './load.js';
