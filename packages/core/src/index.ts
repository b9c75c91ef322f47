export {
  TxnError,
  isTxnError,
  isErrno,
  errorMessage,
  exitCodeOf,
  EXIT,
  ERROR_CATALOGUE,
} from './errors.js';
export type { ErrorCode, ErrnoError, TxnErrorOptions } from './errors.js';
export type {
  EntryType,
  FileEntry,
  SymlinkEntry,
  DirEntry,
  ManifestEntry,
  Manifest,
  LoadedManifest,
  InstalledFile,
  DiskState,
  TxnKind,
  TxnState,
} from './types.js';
export { INTERRUPTED_STATES, VERSION_FILE, TOOL_VERSION } from './types.js';
export { targetLayout, backupDirName, under, relParent, relAncestors, formatMode } from './paths.js';
export type { TargetLayout } from './paths.js';
