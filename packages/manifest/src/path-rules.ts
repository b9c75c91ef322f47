/**
 * The manifest path rules of DESIGN §9: everything a path or symlink target must satisfy before
 * anything touches the disk. Each rule has its own error code so tests, scripts and `--json`
 * consumers can tell them apart. Pure: strings in, an exception or nothing out.
 *
 * The checks run in three passes so the report is stable and the cheap rules fail fast:
 *   1. each entry on its own (path shape, then the symlink target's shape), in entry order;
 *   2. entries against each other (duplicates, file-as-parent, normalization and case collisions);
 *   3. symlink resolution through the manifest's own symlinks.
 */
import { TxnError, VERSION_FILE, type ErrorCode, type ManifestEntry } from '@codemate-txn/core';
import { quote } from './schema.js';

export const MAX_SEGMENT_BYTES = 255;
export const MAX_PATH_BYTES = 4096;
/** Same bound as Linux's MAXSYMLINKS: a longer chain is a loop or an attack, not a layout. */
export const MAX_SYMLINK_HOPS = 40;

interface Violation {
  code: ErrorCode;
  rule: string;
  found: string;
  hint: string;
}

// NUL, C0 controls and DEL are what the contract names; the C1 controls (0x80-0x9f) are invisible
// in terminals too, never legitimate in a file name, and so refused with them.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const DRIVE = /^[A-Za-z]:/;
const UNC = /^[\\/]{2}/;
// Windows device names, also with an extension ("con.txt") and with the superscript digits that
// Windows treats as digits here (COM¹). COM0/LPT0 are reserved on current Windows as well.
const RESERVED_NAME = /^(con|prn|aux|nul|conin\$|conout\$|com[0-9¹²³]|lpt[0-9¹²³])$/i;
const ASCII_PRINTABLE = /^[\u0020-\u007e]*$/;

const HINT_RELATIVE = "fix the manifest: paths are relative to the target root and '/'-separated";
const HINT_WINDOWS = 'fix the manifest: every path must be a valid file name on Windows, macOS and Linux alike';

/** The first per-path rule a single manifest path breaks, or undefined. */
export function pathViolation(p: string): Violation | undefined {
  if (p === '') {
    return { code: 'E_PATH_EMPTY', rule: 'a path must name something', found: 'an empty path', hint: HINT_RELATIVE };
  }
  const ctl = CONTROL.exec(p);
  if (ctl !== null) {
    return {
      code: 'E_PATH_CONTROL_CHAR',
      rule: 'a path must not contain NUL or control characters',
      found: `${codePoint(ctl[0])} at offset ${ctl.index}`,
      hint: 'fix the manifest: remove the control character from the path',
    };
  }
  if (UNC.test(p)) {
    return { code: 'E_PATH_UNC', rule: 'a path must be relative to the target', found: 'a UNC path (two leading slashes)', hint: HINT_RELATIVE };
  }
  if (DRIVE.test(p)) {
    return { code: 'E_PATH_DRIVE', rule: 'a path must be relative to the target', found: `a drive letter ${quote(p.slice(0, 2))}`, hint: HINT_RELATIVE };
  }
  if (p.startsWith('/') || p.startsWith('\\')) {
    return { code: 'E_PATH_ABSOLUTE', rule: 'a path must be relative to the target', found: 'an absolute path (leading slash)', hint: HINT_RELATIVE };
  }
  if (p.includes('\\')) {
    return { code: 'E_PATH_BACKSLASH', rule: "a path must use '/' as its only separator", found: 'a backslash', hint: HINT_RELATIVE };
  }
  const segments = p.split('/');
  let dotdot = false;
  let dot = false;
  let empty = false;
  for (const seg of segments) {
    if (seg === '..') dotdot = true;
    else if (seg === '.') dot = true;
    else if (seg === '') empty = true;
  }
  // '..' first: of the segment rules it is the one that escapes, so it is the one to report.
  if (dotdot) {
    return { code: 'E_PATH_DOTDOT', rule: 'a path must stay inside the target', found: "a '..' segment", hint: "fix the manifest: write the path from the target root, without '..'" };
  }
  if (dot) {
    return { code: 'E_PATH_DOT', rule: "a path must not have '.' segments", found: "a '.' segment", hint: "fix the manifest: drop the '.' segments" };
  }
  if (empty) {
    const found = p.endsWith('/') ? "a trailing '/'" : "an empty segment ('//')";
    return { code: 'E_PATH_EMPTY_SEGMENT', rule: 'a path must not have empty segments', found, hint: "fix the manifest: a directory is an entry with \"type\": \"dir\", not a trailing '/'" };
  }
  if (p.includes(':')) {
    return { code: 'E_PATH_COLON', rule: "a path must not contain ':' (it names an NTFS alternate data stream)", found: `':' in ${quote(segments.find((s) => s.includes(':')) ?? p)}`, hint: HINT_WINDOWS };
  }
  // Printable ASCII (the common case) is its own UTF-8 byte count and already NFC.
  const ascii = ASCII_PRINTABLE.test(p);
  const bytes = ascii ? p.length : Buffer.byteLength(p, 'utf8');
  if (bytes > MAX_PATH_BYTES) {
    return { code: 'E_PATH_TOO_LONG', rule: `a path must be at most ${MAX_PATH_BYTES} bytes (UTF-8)`, found: `${bytes} bytes`, hint: 'fix the manifest: shorten the path' };
  }
  for (const seg of segments) {
    const segBytes = ascii ? seg.length : Buffer.byteLength(seg, 'utf8');
    if (segBytes > MAX_SEGMENT_BYTES) {
      return { code: 'E_PATH_TOO_LONG', rule: `a path segment must be at most ${MAX_SEGMENT_BYTES} bytes (UTF-8)`, found: `a segment of ${segBytes} bytes`, hint: 'fix the manifest: shorten the name' };
    }
    if (seg.endsWith('.') || seg.endsWith(' ')) {
      return { code: 'E_PATH_TRAILING_DOT_SPACE', rule: 'a path segment must not end with a dot or a space (Windows drops them)', found: quote(seg), hint: HINT_WINDOWS };
    }
    // Windows matches the part before the first dot, with trailing spaces ignored ("CON .txt").
    const dotAt = seg.indexOf('.');
    let stem = dotAt < 0 ? seg : seg.slice(0, dotAt);
    if (stem.endsWith(' ')) stem = stem.replace(/ +$/, '');
    if (stem.length >= 3 && stem.length <= 6 && RESERVED_NAME.test(stem)) {
      return { code: 'E_PATH_RESERVED_NAME', rule: 'a path segment must not be a Windows device name (CON, PRN, AUX, NUL, COM0-9, LPT0-9, with or without an extension)', found: quote(seg), hint: HINT_WINDOWS };
    }
  }
  if (!ascii && p !== p.normalize('NFC')) {
    return { code: 'E_PATH_NOT_NFC', rule: 'a path must be in Unicode NFC', found: `a different form (NFC would be ${quote(p.normalize('NFC'))})`, hint: 'fix the manifest: normalize paths to NFC (manifest build does)' };
  }
  // Case-folded: on a case-insensitive disk ".Codemate-Version" is the engine's version file.
  const first = segments[0] ?? '';
  if (foldKey(first) === VERSION_FILE) {
    return { code: 'E_PATH_RESERVED', rule: `${quote(VERSION_FILE)} at the top level is the engine's own version file`, found: segments.length > 1 ? `a path beneath ${quote(first)}` : quote(first), hint: 'fix the manifest: remove or rename this entry' };
  }
  return undefined;
}

/** The first shape rule a symlink target breaks (resolution is checked later), or undefined. */
function targetViolation(t: string): Violation | undefined {
  const ctl = CONTROL.exec(t);
  if (ctl !== null) {
    return { code: 'E_PATH_CONTROL_CHAR', rule: 'a symlink target must not contain NUL or control characters', found: `${codePoint(ctl[0])} at offset ${ctl.index}`, hint: 'fix the manifest: remove the control character from the target' };
  }
  const bytes = Buffer.byteLength(t, 'utf8');
  if (bytes > MAX_PATH_BYTES) {
    return { code: 'E_PATH_TOO_LONG', rule: `a symlink target must be at most ${MAX_PATH_BYTES} bytes (UTF-8)`, found: `${bytes} bytes`, hint: 'fix the manifest: shorten the target' };
  }
  if (UNC.test(t) || DRIVE.test(t) || t.startsWith('/') || t.startsWith('\\')) {
    return { code: 'E_SYMLINK_ESCAPE', rule: 'a symlink target must be relative and resolve inside the target', found: 'an absolute target', hint: 'fix the manifest: make the link relative to its own directory' };
  }
  // On Windows a backslash is a separator, so "..\\..\\x" would escape there.
  if (t.includes('\\')) {
    return { code: 'E_PATH_BACKSLASH', rule: "a symlink target must use '/' as its only separator", found: 'a backslash', hint: 'fix the manifest: write the target with forward slashes' };
  }
  return undefined;
}

/**
 * Checks every rule of DESIGN §9 over a manifest's entries; throws the first violation as a
 * TxnError naming the entry (files[i] and its path), the rule and what was found.
 */
export function checkPaths(entries: ManifestEntry[]): void {
  entries.forEach((e, i) => {
    const v = pathViolation(e.path);
    if (v !== undefined) throw pathError(v, i, e);
    if (e.type === 'symlink') {
      const tv = targetViolation(e.target);
      if (tv !== undefined) throw pathError(tv, i, e, 'target');
    }
  });
  checkCrossEntry(entries);
  checkSymlinks(entries);
}

interface Seen {
  index: number;
  /** The exact name (entry path or one of its ancestor directories) first seen with this key. */
  name: string;
}

function checkCrossEntry(entries: ManifestEntry[]): void {
  // Every distinct name (entry path or ancestor directory) is in leaves or dirs or both.
  const leaves = new Map<string, number>();
  const dirs = new Map<string, number>();
  // Only names that normalization or folding changes are keyed here: in the common case of plain
  // lowercase ASCII names these stay empty and each name costs two lookups, not four inserts.
  const byNfkc = new Map<string, Seen>();
  const byFold = new Map<string, Seen>();
  const known = (name: string): number | undefined => leaves.get(name) ?? dirs.get(name);

  const register = (name: string, i: number, e: ManifestEntry): void => {
    const nk = nfkcKey(name);
    const n = (byNfkc.size === 0 ? undefined : byNfkc.get(nk)) ?? (nk === name ? undefined : seen(nk, known(nk)));
    if (n !== undefined) {
      throw pathError({ code: 'E_PATH_NORMALIZATION_COLLISION', rule: 'paths must stay distinct after Unicode normalization (NFKC)', found: collision(name, e.path, n, entries), hint: 'fix the manifest: rename one of the two so they differ in more than their Unicode form' }, i, e, 'path', n.index);
    }
    if (nk !== name) byNfkc.set(nk, { index: i, name });
    const fk = foldKey(name);
    const f = (byFold.size === 0 ? undefined : byFold.get(fk)) ?? (fk === name ? undefined : seen(fk, known(fk)));
    if (f !== undefined) {
      throw pathError({ code: 'E_PATH_CASE_COLLISION', rule: 'paths must stay distinct when case is ignored (case-insensitive disks)', found: collision(name, e.path, f, entries), hint: 'fix the manifest: rename one of the two so they differ in more than case' }, i, e, 'path', f.index);
    }
    if (fk !== name) byFold.set(fk, { index: i, name });
  };

  // Manifests are usually sorted, so consecutive entries share a parent: its ancestors were
  // checked and registered with the previous entry and need no second look.
  let lastParent: string | undefined;
  entries.forEach((e, i) => {
    const p = e.path;
    const prev = leaves.get(p);
    if (prev !== undefined) {
      throw pathError({ code: 'E_PATH_DUPLICATE', rule: 'each path may appear only once', found: `the same path at files[${prev}]`, hint: 'fix the manifest: remove one of the two entries' }, i, e, 'path', prev);
    }
    const slash = p.lastIndexOf('/');
    const parent = slash < 0 ? '' : p.slice(0, slash);
    if (parent !== lastParent) {
      const ancestors = ancestorsOf(p);
      for (const a of ancestors) {
        const li = leaves.get(a);
        const le = li === undefined ? undefined : entries[li];
        if (li !== undefined && le !== undefined && le.type !== 'dir') {
          throw pathError({ code: 'E_PATH_FILE_IS_PARENT', rule: 'a file or symlink cannot also be the directory of another entry', found: `files[${li}] ${quote(a)} is a ${le.type}`, hint: "fix the manifest: a path's parents must be directories" }, i, e, 'path', li);
        }
      }
      // Ancestors count too: "Docs/a" and "docs/b" put two directories where a case-insensitive
      // disk has one, and a later update that deletes one of them would delete both.
      for (const a of ancestors) {
        if (dirs.has(a)) continue;
        if (!leaves.has(a)) register(a, i, e);
        dirs.set(a, i);
      }
      lastParent = parent;
    }
    const child = dirs.get(p);
    if (child !== undefined && e.type !== 'dir') {
      throw pathError({ code: 'E_PATH_FILE_IS_PARENT', rule: 'a file or symlink cannot also be the directory of another entry', found: `files[${child}] ${quote(entries[child]?.path ?? '')} beneath it`, hint: "fix the manifest: a path's parents must be directories" }, i, e, 'path', child);
    }
    if (child === undefined) register(p, i, e);
    leaves.set(p, i);
  });
}

function seen(name: string, index: number | undefined): Seen | undefined {
  return index === undefined ? undefined : { index, name };
}

function collision(name: string, p: string, other: Seen, entries: ManifestEntry[]): string {
  const otherPath = entries[other.index]?.path ?? '';
  const mine = name === p ? 'it' : `its directory ${quote(name)}`;
  const theirs = other.name === otherPath ? `files[${other.index}] ${quote(otherPath)}` : `${quote(other.name)} (from files[${other.index}] ${quote(otherPath)})`;
  return `${mine} collides with ${theirs}`;
}

/**
 * Resolves each symlink as the OS would, component by component, following the manifest's own
 * symlinks (so '..' after a link climbs from where the link points, not from where it sits).
 * Lookups are case-folded: on a case-insensitive disk "D/.." goes through the link "d".
 */
function checkSymlinks(entries: ManifestEntry[]): void {
  const links = new Map<string, string>();
  for (const e of entries) if (e.type === 'symlink') links.set(foldKey(e.path), e.target);
  if (links.size === 0) return;
  entries.forEach((e, i) => {
    if (e.type !== 'symlink') return;
    const found = resolveEscape(e.path, e.target, links);
    if (found !== undefined) {
      throw pathError({ code: 'E_SYMLINK_ESCAPE', rule: 'a symlink target must resolve inside the target', found, hint: 'fix the manifest: point the link at a path inside the release' }, i, e, 'target');
    }
  });
}

/** Why the link escapes (or loops), or undefined when it resolves inside the root. */
function resolveEscape(linkPath: string, target: string, links: Map<string, string>): string | undefined {
  const stack = linkPath.split('/').slice(0, -1);
  // Components still to walk, last one first so pop() yields them in order.
  const pending = target.split('/').reverse();
  let hops = 1;
  let via = '';
  while (pending.length > 0) {
    const c = pending.pop() as string;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (stack.length === 0) return `it leaves the target through '..'${via}`;
      stack.pop();
      continue;
    }
    stack.push(c);
    const here = stack.join('/');
    const next = links.get(foldKey(here));
    if (next === undefined) continue;
    if (++hops > MAX_SYMLINK_HOPS) return `a chain of more than ${MAX_SYMLINK_HOPS} symlinks (a loop)`;
    if (UNC.test(next) || DRIVE.test(next) || next.startsWith('/') || next.startsWith('\\')) {
      return `it reaches ${quote(here)}, a symlink to the absolute ${quote(next)}`;
    }
    via = ` (via the symlink ${quote(here)} -> ${quote(next)})`;
    stack.pop();
    for (const s of next.split('/').reverse()) pending.push(s);
  }
  return undefined;
}

function pathError(v: Violation, index: number, e: ManifestEntry, field: 'path' | 'target' = 'path', other?: number): TxnError {
  const target = field === 'target' && e.type === 'symlink' ? ` target ${quote(e.target)}` : '';
  return new TxnError(v.code, `manifest entry files[${index}] path ${quote(e.path)}${target}: ${v.rule}, found ${v.found}`, {
    hint: v.hint,
    details: {
      index,
      path: e.path,
      rule: v.rule,
      field,
      ...(field === 'target' && e.type === 'symlink' ? { target: e.target } : {}),
      ...(other === undefined ? {} : { otherIndex: other }),
    },
  });
}

function ancestorsOf(p: string): string[] {
  const out: string[] = [];
  for (let k = p.indexOf('/'); k >= 0; k = p.indexOf('/', k + 1)) out.push(p.slice(0, k));
  return out;
}

function nfkcKey(s: string): string {
  return ASCII_PRINTABLE.test(s) ? s : s.normalize('NFKC');
}

/**
 * A conservative case fold: NFKC, then upper- then lower-case, which folds what simple lowercasing
 * misses ("ß" ~ "SS", "ſ" ~ "s", dotless "ı" ~ "i", as NTFS's upcase table does). Folding too much
 * only refuses an odd manifest; folding too little lets two entries share one file on disk.
 */
export function foldKey(s: string): string {
  if (ASCII_PRINTABLE.test(s)) return s.toLowerCase();
  return s.normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC');
}

function codePoint(ch: string): string {
  return `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}
