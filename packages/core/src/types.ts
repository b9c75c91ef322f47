/** Shared data types: manifest entries, plans, results. Plain data, no behaviour. */

export type EntryType = 'file' | 'symlink' | 'dir';

export interface FileEntry {
  type: 'file';
  path: string;
  size: number;
  sha256: string;
  /** Permission bits, e.g. 0o644. */
  mode: number;
  /** Optional per-entry URL overriding source/<path>. */
  url?: string;
}

export interface SymlinkEntry {
  type: 'symlink';
  path: string;
  target: string;
}

export interface DirEntry {
  type: 'dir';
  path: string;
  mode: number;
}

export type ManifestEntry = FileEntry | SymlinkEntry | DirEntry;

export interface Manifest {
  schemaVersion: 1;
  app: string;
  version: string;
  /** As written in the manifest (relative path, file: URL or http(s): URL). */
  source: string;
  files: ManifestEntry[];
  preserve: string[];
  expires?: string;
}

/** A manifest as loaded: the parsed data plus where it came from. */
export interface LoadedManifest {
  manifest: Manifest;
  /** sha256 of the manifest's exact bytes. */
  sha256: string;
  /** Where the manifest was read from: an absolute path or a URL. */
  location: string;
  /** The resolved source base: an absolute directory path or an http(s) URL ending in '/'. */
  sourceBase: string;
  /** The manifest's exact bytes (for signatures). */
  bytes: Buffer;
  /** True when these bytes were the installed manifest and so skipped the schema and path-rule passes. */
  knownValid?: boolean;
}

/** One row of the installed set (installed_files). */
export interface InstalledFile {
  path: string;
  type: EntryType;
  sha256: string | null;
  size: number | null;
  mode: number | null;
  linkTarget: string | null;
  version: string;
}

/** What lstat (and, for files, a hash) says is at a path. */
export type DiskState =
  | { type: 'absent' }
  | { type: 'file'; size: number; mode: number; sha256?: string; ino: number; mtimeMs: number; ctimeMs: number }
  /** toDir: the link, followed, is a directory (a trailing-slash preserve pattern matches it). */
  | { type: 'symlink'; target: string; toDir?: boolean }
  | { type: 'dir'; mode: number }
  | { type: 'other' };

export type TxnKind = 'install' | 'update' | 'repair' | 'downgrade';

export type TxnState = 'staging' | 'applying' | 'committed' | 'done' | 'rolling_back' | 'rolled_back';

export const INTERRUPTED_STATES: readonly TxnState[] = ['staging', 'applying', 'rolling_back', 'committed'];

export const VERSION_FILE = '.codemate-version';

export const TOOL_VERSION = '0.1.0';
