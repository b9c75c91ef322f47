export { apply, planApply } from './apply.js';
export type { ApplyOptions, ApplyResult, ApplyCounts, DryRunResult } from './apply.js';
export { recover } from './recover.js';
export type { RecoverOptions, RecoverResult, RecoverSummary } from './recover.js';
export { defaultContext } from './context.js';
export type { EngineContext, ProgressEvent } from './context.js';
// The manifest loader, so an embedding application needs only this package.
export { loadManifestFile } from '@codemate-txn/manifest';
export type { LoadedManifest, Manifest, ManifestEntry } from '@codemate-txn/core';
export { TxnError, isTxnError } from '@codemate-txn/core';
export { knownValidManifest } from './known-valid.js';
