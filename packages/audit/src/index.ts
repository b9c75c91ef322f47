/**
 * The auditor's side of codemate-txn: status, log, show and verify over a journal opened
 * read-only. Every function returns plain data (what `--json` prints); the format* functions turn
 * it into the human text the CLI prints. This package never imports the engine.
 */
export type { AuditLocation } from './open-journal.js';
export { status, formatStatus } from './status.js';
export type { StatusReport } from './status.js';
export type { LockState } from './lock-state.js';
export { log, formatLog, logJsonl, TXN_STATES } from './log.js';
export type { LogOptions } from './log.js';
export { show, formatShow } from './show.js';
export type { ShowOptions, ShowReport, ShowCounts } from './show.js';
export { verify, formatVerify } from './verify.js';
export type { VerifyOptions, VerifyReport, Drift, DriftKind, DriftFacts } from './verify.js';
export { verifyJournal, formatVerifyJournal } from './verify-journal.js';
export type { VerifyJournalOptions, JournalVerifyReport } from './verify-journal.js';
export type { TxnRecord, OpRecord, ChainProblem, ChainProblemKind } from '@codemate-txn/journal';
