/**
 * The one coded error class and its catalogue. Every code maps to one exit code of the CLI
 * contract (DESIGN §7); the README lists them all.
 */

export const EXIT = {
  ok: 0,
  rolledBack: 1,
  badInput: 2,
  interrupted: 3,
  locked: 4,
  drift: 5,
  internal: 70,
} as const;

/** code → [exit code, one-line meaning]. Order: by exit code, then alphabetically. */
export const ERROR_CATALOGUE = {
  // exit 1: failed, rolled back, target unchanged
  E_STAGE_VERIFY: [1, 'a staged file did not match the manifest (size or sha256)'],
  E_SOURCE_MISSING: [1, "a file's bytes could not be found at the source"],
  E_DOWNLOAD: [1, 'a download failed'],
  E_FS: [1, 'a filesystem operation failed'],
  E_SYMLINK_PARENT: [1, 'a parent directory inside the target is a symlink the engine did not place'],
  E_PATH_CONFLICT: [1, 'a manifest path is occupied by something that cannot be replaced safely'],
  E_PRESERVE_CHANGED: [1, 'preserved user files changed during the transaction'],
  E_NO_SPACE: [1, 'not enough free space to stage the release'],
  E_SIGNAL: [1, 'interrupted by a signal; rolled back'],
  // exit 2: bad input or usage, nothing touched
  E_USAGE: [2, 'bad command-line usage'],
  E_MANIFEST_READ: [2, 'the manifest could not be read'],
  E_MANIFEST_JSON: [2, 'the manifest is not valid JSON'],
  E_MANIFEST_SCHEMA: [2, 'the manifest does not match the schema'],
  E_MANIFEST_LIMIT: [2, 'the manifest is too large'],
  E_PATH_DOTDOT: [2, "a manifest path has a '..' segment"],
  E_PATH_DOT: [2, "a manifest path has a '.' segment"],
  E_PATH_EMPTY_SEGMENT: [2, 'a manifest path has an empty segment'],
  E_PATH_ABSOLUTE: [2, 'a manifest path is absolute'],
  E_PATH_DRIVE: [2, 'a manifest path has a drive letter'],
  E_PATH_UNC: [2, 'a manifest path is a UNC path'],
  E_PATH_BACKSLASH: [2, 'a manifest path contains a backslash'],
  E_PATH_CONTROL_CHAR: [2, 'a manifest path contains NUL or a control character'],
  E_PATH_COLON: [2, "a manifest path contains ':'"],
  E_PATH_RESERVED_NAME: [2, 'a manifest path uses a Windows reserved name'],
  E_PATH_TRAILING_DOT_SPACE: [2, 'a manifest path segment ends with a dot or a space'],
  E_PATH_TOO_LONG: [2, 'a manifest path or one of its segments is too long'],
  E_PATH_NOT_NFC: [2, 'a manifest path is not in Unicode NFC'],
  E_PATH_DUPLICATE: [2, 'two manifest entries have the same path'],
  E_PATH_CASE_COLLISION: [2, 'two manifest paths differ only by case'],
  E_PATH_NORMALIZATION_COLLISION: [2, 'two manifest paths are equal after Unicode normalization'],
  E_PATH_FILE_IS_PARENT: [2, "a file entry is also another entry's parent directory"],
  E_PATH_RESERVED: [2, "a manifest path is reserved for the engine ('.codemate-version')"],
  E_PATH_EMPTY: [2, 'a manifest path is empty'],
  E_SYMLINK_ESCAPE: [2, 'a symlink target resolves outside the target'],
  E_SPECIAL_MODE: [2, 'a mode has setuid, setgid or sticky bits'],
  E_VERSION_DOWNGRADE: [2, 'the manifest version is older than the installed one'],
  E_VERSION_INVALID: [2, 'a version is not valid semver'],
  E_APP_MISMATCH: [2, 'the manifest is for a different app than the one installed'],
  E_SIGNATURE: [2, 'the manifest signature is missing or invalid'],
  E_MANIFEST_EXPIRED: [2, 'the manifest has expired'],
  E_TARGET_INVALID: [2, 'the target path is not usable'],
  E_JOURNAL_SCHEMA: [2, 'the journal has a newer schema than this tool understands'],
  E_NOT_FOUND: [2, 'no such transaction'],
  // exit 3
  E_INTERRUPTED: [3, 'an interrupted transaction needs recovery'],
  // exit 4
  E_LOCKED: [4, 'another process holds the lock on this target'],
  // exit 5
  E_DRIFT: [5, 'the installed files differ from the journal'],
  E_JOURNAL_TAMPERED: [5, 'the journal hash chain does not verify (an auditor alert, not a crash)'],
  // exit 70
  E_ROLLBACK_INCOMPLETE: [70, 'rollback could not finish; run codemate-txn recover'],

  E_INTERNAL: [70, 'internal error'],
} as const satisfies Record<string, readonly [number, string]>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export interface TxnErrorOptions {
  hint?: string;
  cause?: unknown;
  /** Machine-readable facts (path, entry index, expected, found…), printed with --json. */
  details?: Record<string, unknown>;
}

export class TxnError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  /**
   * Machine-readable facts about the failure (printed as "details" with --json). Not named
   * `details` on the instance: test runners (uvu) treat an error's `details` as a diff string.
   */
  readonly facts: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, opts: TxnErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'TxnError';
    this.code = code;
    this.hint = opts.hint;
    this.facts = opts.details ?? {};
  }

  get exitCode(): number {
    return ERROR_CATALOGUE[this.code][0];
  }
}

export function isTxnError(e: unknown): e is TxnError {
  return e instanceof TxnError;
}

/** An errno-style error from node:fs (or one injected by the fault seam). */
export interface ErrnoError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
  path?: string;
}

export function isErrno(e: unknown, ...codes: string[]): e is ErrnoError {
  if (!(e instanceof Error) || typeof (e as ErrnoError).code !== 'string') return false;
  return codes.length === 0 || codes.includes((e as ErrnoError).code);
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Exit code for any thrown value: a TxnError's own, 70 for anything else. */
export function exitCodeOf(e: unknown): number {
  return isTxnError(e) ? e.exitCode : EXIT.internal;
}
