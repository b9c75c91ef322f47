export { TxnFs } from './txn-fs.js';
export type { WriteResult, CopyOptions } from './txn-fs.js';
export { FaultInjector, faultConfigFromEnv, faultsActive } from './faults.js';
export type { FaultConfig } from './faults.js';
export { hashFile, sha256Of } from './hash.js';
