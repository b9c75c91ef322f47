/**
 * `manifest build`: a release tree on disk → a Manifest. Read-only. Symlinks are recorded as links
 * (never followed), empty directories as `dir` entries (others are implied by their contents), and
 * the result goes through the same parser that apply uses, so a built manifest always loads.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TxnError, isErrno, errorMessage, type Manifest, type ManifestEntry } from '@codemate-txn/core';
import { hashHandle } from './hash.js';
import { parseManifest } from './parse.js';
import { serializeManifest } from './serialize.js';
import { quote } from './schema.js';

export interface BuildOptions {
  app: string;
  version: string;
  /** Where apply will fetch the bytes from. Default "./files". */
  source?: string;
  preserve?: string[];
  /** Absolute paths inside the tree to leave out (the manifest being written, its .sig). */
  exclude?: string[];
}

interface PendingFile {
  abs: string;
  rel: string;
}

/** Enough parallel reads to keep a disk busy, few enough not to exhaust file descriptors. */
const HASH_CONCURRENCY = 8;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

export async function buildManifest(dir: string, opts: BuildOptions): Promise<Manifest> {
  const root = path.resolve(dir);
  // The root itself may be a symlink the user typed; only what is inside is never followed.
  const st = await fsCall(() => fs.promises.stat(root), root, 'stat', true);
  if (!st.isDirectory()) {
    throw new TxnError('E_USAGE', `manifest build: the release tree must be a directory, found ${describeType(st)} at ${quote(root)}`, {
      hint: 'pass the directory that holds the release files',
      details: { path: root },
    });
  }
  const entries: ManifestEntry[] = [];
  const pending: PendingFile[] = [];
  const exclude = new Set((opts.exclude ?? []).map((p) => path.resolve(p)));
  await walk(root, '', entries, pending, exclude);
  await hashAll(pending, entries);

  // Byte order of the UTF-8 path: what `sort` and other languages produce, unlike UTF-16 order.
  const keyed = entries.map((e) => ({ e, k: Buffer.from(e.path, 'utf8') }));
  keyed.sort((a, b) => Buffer.compare(a.k, b.k));

  const m: Manifest = {
    schemaVersion: 1,
    app: opts.app,
    version: opts.version,
    source: opts.source ?? './files',
    files: keyed.map((x) => x.e),
    preserve: opts.preserve ?? [],
  };
  // Round-trip through the parser: schema, semver and every path rule, exactly as apply will see it.
  // Special modes found on disk are kept; apply then asks for --allow-special-modes.
  return parseManifest(Buffer.from(serializeManifest(m), 'utf8'), `built from ${root}`, {
    allowSpecialModes: true,
    maxBytes: Number.POSITIVE_INFINITY,
    maxEntries: Number.POSITIVE_INFINITY,
  });
}

async function walk(absDir: string, relDir: string, entries: ManifestEntry[], pending: PendingFile[], exclude: ReadonlySet<string>): Promise<void> {
  const names = await fsCall(() => fs.promises.readdir(absDir, { encoding: 'buffer' }), absDir, 'readdir');
  if (names.length === 0 && relDir !== '') {
    const st = await fsCall(() => fs.promises.lstat(absDir), absDir, 'lstat');
    entries.push({ type: 'dir', path: relDir, mode: st.mode & 0o7777 });
    return;
  }
  for (const raw of names) {
    let name: string;
    try {
      name = UTF8.decode(raw);
    } catch {
      throw new TxnError('E_USAGE', `manifest build: file names must be UTF-8, found ${JSON.stringify(raw.toString('latin1'))} in ${quote(absDir)}`, {
        hint: 'rename the file so its name is valid UTF-8',
        details: { path: absDir },
      });
    }
    const abs = path.join(absDir, name);
    if (exclude.has(abs)) continue;
    // Manifest paths are NFC (DESIGN §9). A name that is not NFC on disk could not be fetched at
    // source/<path> (Linux does not normalise names): refuse it, naming the file.
    if (name.normalize('NFC') !== name) {
      throw new TxnError('E_USAGE', `manifest build: file names must be in Unicode NFC, found a decomposed (NFD) name at ${quote(abs)}`, {
        hint: `rename it to its NFC form (${JSON.stringify(name.normalize('NFC'))}), e.g. with convmv --nfc, then build again`,
        details: { path: abs },
      });
    }
    const rel = relDir === '' ? name : `${relDir}/${name}`;
    const st = await fsCall(() => fs.promises.lstat(abs), abs, 'lstat');
    if (st.isFile()) {
      pending.push({ abs, rel });
    } else if (st.isSymbolicLink()) {
      const target = await fsCall(() => fs.promises.readlink(abs), abs, 'readlink');
      entries.push({ type: 'symlink', path: rel, target });
    } else if (st.isDirectory()) {
      await walk(abs, rel, entries, pending, exclude);
    } else {
      throw new TxnError('E_USAGE', `manifest build: a release may hold only files, symlinks and directories, found ${describeType(st)} at ${quote(abs)}`, {
        hint: 'remove it from the release tree',
        details: { path: abs, type: describeType(st) },
      });
    }
  }
}

async function hashAll(pending: PendingFile[], entries: ManifestEntry[]): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < pending.length) {
      const f = pending[next++] as PendingFile;
      entries.push(await hashFile(f));
    }
  };
  await Promise.all(Array.from({ length: Math.min(HASH_CONCURRENCY, pending.length) }, worker));
}

async function hashFile(f: PendingFile): Promise<ManifestEntry> {
  // O_NOFOLLOW: if the file was swapped for a symlink since lstat, fail instead of hashing elsewhere.
  const flags = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0);
  const fh = await fsCall(() => fs.promises.open(f.abs, flags), f.abs, 'open');
  try {
    const st = await fsCall(() => fh.stat(), f.abs, 'fstat');
    if (!st.isFile()) {
      throw new TxnError('E_USAGE', `manifest build: expected a regular file, found ${describeType(st)} at ${quote(f.abs)}`, {
        hint: 'do not change the release tree while building its manifest',
        details: { path: f.abs },
      });
    }
    const { sha256, size } = await fsCall(() => hashHandle(fh, st.size), f.abs, 'read');
    return { type: 'file', path: f.rel, size, sha256, mode: st.mode & 0o7777 };
  } finally {
    await fh.close();
  }
}

/** Runs one fs call; errno failures become TxnErrors naming the path (missing root → usage). */
async function fsCall<T>(fn: () => Promise<T>, p: string, op: string, isRoot = false): Promise<T> {
  try {
    return await fn();
  } catch (e: unknown) {
    if (e instanceof TxnError || !isErrno(e)) throw e;
    if (isRoot && isErrno(e, 'ENOENT', 'ENOTDIR')) {
      throw new TxnError('E_USAGE', `manifest build: the release tree must exist, found nothing at ${quote(p)}`, {
        hint: 'pass the directory that holds the release files',
        cause: e,
        details: { path: p, errno: e.code },
      });
    }
    throw new TxnError('E_FS', `manifest build: could not ${op} ${quote(p)}: ${e.code} (${errorMessage(e)})`, {
      hint: 'check that the release tree is readable',
      cause: e,
      details: { path: p, errno: e.code, syscall: op },
    });
  }
}

function describeType(st: fs.Stats): string {
  if (st.isFile()) return 'a file';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symlink';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'an unknown file type';
}
