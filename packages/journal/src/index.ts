export { Journal } from './journal.js';
export type {
  JournalOptions,
  OpIntent,
  OpRecord,
  OpPhase,
  OpKind,
  OpState,
  UndoKind,
  TxnBegin,
  TxnRecord,
  PlannedFile,
  StatCacheRow,
} from './journal.js';
export { SCHEMA_SQL, SCHEMA_VERSION } from './schema.js';
export type { ChainReport, ChainProblem, ChainProblemKind, ChainCheckOptions } from './verify-chain.js';
export { acquireLock, readLockHolder } from './lock.js';
export type { Lock, LockHolder } from './lock.js';
