/**
 * Manifest bytes → a typed, normalised, fully checked Manifest. Pure (no I/O), so `--dry-run`,
 * `verify` and the tests all see exactly what apply sees. Order: cheap caps, JSON, schema, semver,
 * normalisation, then the path rules, so the first error reported is the most basic one.
 */
import semverValid from 'semver/functions/valid';
import semverCoerce from 'semver/functions/coerce';
import { TxnError, type Manifest, type ManifestEntry } from '@codemate-txn/core';
import { validateSchema, quote } from './schema.js';
import { jsonErrorOffset, lineColumn } from './json-error.js';
import { checkPaths } from './path-rules.js';

export interface ParseOptions {
  /** Accept setuid, setgid and sticky bits in modes (`--allow-special-modes`). */
  allowSpecialModes?: boolean;
  /** Largest manifest accepted, in bytes. Default 64 MiB. */
  maxBytes?: number;
  /** Most entries accepted in `files`. Default 1,000,000. */
  maxEntries?: number;
  /**
   * These exact bytes already passed the schema and the path rules, in this version of the code
   * (the manifest of the installed transaction: a re-apply): those two checks, which cost most of a
   * parse, are skipped. Everything else still runs (caps, JSON, version, modes, normalisation).
   */
  knownValid?: boolean;
}

export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_ENTRIES = 1_000_000;

const DEFAULT_FILE_MODE = 0o644;
const DEFAULT_DIR_MODE = 0o755;

/** What the schema guarantees an entry looks like before normalisation. */
interface RawEntry {
  path: string;
  type?: 'file' | 'symlink' | 'dir';
  size?: number;
  sha256?: string;
  mode?: string;
  url?: string;
  target?: string;
}

interface RawManifest {
  schemaVersion: 1;
  app: string;
  version: string;
  source: string;
  files: RawEntry[];
  preserve?: string[];
  expires?: string;
}

export function parseManifest(bytes: Buffer, location: string, opts: ParseOptions = {}): Manifest {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
  if (bytes.length > maxBytes) {
    throw new TxnError('E_MANIFEST_LIMIT', `manifest ${location}: a manifest may be at most ${maxBytes} bytes, found ${bytes.length}`, {
      hint: 'split the release, or raise the limit if this manifest is trusted',
      details: { limit: 'bytes', max: maxBytes, found: bytes.length },
    });
  }
  const data = parseJson(bytes, location);
  // Counted before schema validation so a hostile million-entry file is not validated entry by entry.
  if (isRecord(data) && Array.isArray(data.files) && data.files.length > maxEntries) {
    throw new TxnError('E_MANIFEST_LIMIT', `manifest ${location}: a manifest may list at most ${maxEntries} entries, found ${data.files.length}`, {
      hint: 'split the release, or raise the limit if this manifest is trusted',
      details: { limit: 'entries', max: maxEntries, found: data.files.length },
    });
  }
  if (opts.knownValid !== true) validateSchema(data, location);
  const raw = data as RawManifest;

  // Strict semver: "v1.2.3" or " 1.2.3" would be recorded as the installed version and compared
  // later, so only the canonical spelling is accepted (build metadata "+b.5" included).
  if (!isStrictSemver(raw.version)) {
    const clean = semverValid(semverCoerce(raw.version));
    throw new TxnError('E_VERSION_INVALID', `manifest ${location}: "version" must be a semantic version such as 1.2.3, found ${quote(raw.version)}`, {
      hint: clean === null ? 'fix the manifest version (https://semver.org)' : `fix the manifest version (did you mean "${clean}"?)`,
      details: { field: 'version', found: raw.version },
    });
  }
  if (raw.expires !== undefined && Number.isNaN(Date.parse(raw.expires))) {
    throw new TxnError('E_MANIFEST_SCHEMA', `manifest ${location}: "expires" must be a real date or date-time, found ${quote(raw.expires)}`, {
      hint: 'fix the manifest, e.g. "expires": "2030-01-31T00:00:00Z"',
      details: { field: 'expires', rule: 'date', found: raw.expires },
    });
  }

  const files = raw.files.map((e, i) => normaliseEntry(e, i, location, opts.allowSpecialModes === true));
  if (opts.knownValid !== true) checkPaths(files);

  const m: Manifest = {
    schemaVersion: 1,
    app: raw.app,
    version: raw.version,
    source: raw.source,
    files,
    preserve: raw.preserve ?? [],
  };
  if (raw.expires !== undefined) m.expires = raw.expires;
  return m;
}

function normaliseEntry(e: RawEntry, i: number, location: string, allowSpecial: boolean): ManifestEntry {
  switch (e.type ?? 'file') {
    case 'symlink':
      return { type: 'symlink', path: e.path, target: e.target as string };
    case 'dir':
      return { type: 'dir', path: e.path, mode: parseMode(e, i, location, DEFAULT_DIR_MODE, allowSpecial) };
    default: {
      const f: ManifestEntry = {
        type: 'file',
        path: e.path,
        size: e.size as number,
        sha256: e.sha256 as string,
        mode: parseMode(e, i, location, DEFAULT_FILE_MODE, allowSpecial),
      };
      if (e.url !== undefined) f.url = e.url;
      return f;
    }
  }
}

function parseMode(e: RawEntry, i: number, location: string, dflt: number, allowSpecial: boolean): number {
  if (e.mode === undefined) return dflt;
  const mode = parseInt(e.mode, 8);
  if ((mode & 0o7000) !== 0 && !allowSpecial) {
    throw new TxnError('E_SPECIAL_MODE', `manifest ${location}: entry files[${i}] (${quote(e.path)}): "mode" must not set setuid, setgid or sticky bits, found ${quote(e.mode)}`, {
      hint: 'drop the leading special bits from the mode, or pass --allow-special-modes if this release really needs them',
      details: { index: i, path: e.path, field: 'mode', rule: 'no special bits', found: e.mode },
    });
  }
  return mode;
}

function parseJson(bytes: Buffer, location: string): unknown {
  let text: string;
  try {
    // fatal: a manifest with invalid UTF-8 must not be silently "repaired" into other paths.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch (e: unknown) {
    throw new TxnError('E_MANIFEST_JSON', `manifest ${location}: a manifest must be UTF-8 text, found invalid byte sequences`, {
      hint: 'save the manifest as UTF-8',
      cause: e,
    });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e: unknown) {
    if (!(e instanceof SyntaxError)) throw e;
    const offset = jsonErrorOffset(text);
    const at = offset < 0 ? '' : (({ line, column }) => ` at line ${line}, column ${column}`)(lineColumn(text, offset));
    // V8 quotes a slice of the input, newlines included; keep the message on one line.
    const oneLine = e.message.replace(/\s+/g, ' ');
    const detail = oneLine.length > 160 ? `${oneLine.slice(0, 160)}…` : oneLine;
    throw new TxnError('E_MANIFEST_JSON', `manifest ${location}: a manifest must be valid JSON, found a syntax error${at} (${detail})`, {
      hint: 'fix the JSON syntax (a trailing comma or a missing quote is the usual cause)',
      cause: e,
      details: offset < 0 ? {} : { offset, ...lineColumn(text, offset) },
    });
  }
}

/** The regular expression published at semver.org: no "v", no spaces, no missing parts. */
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

export function isStrictSemver(v: string): boolean {
  // Both: the published grammar, and what the semver package (used to compare versions) accepts.
  return SEMVER.test(v) && semverValid(v) !== null;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
