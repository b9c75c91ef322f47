/**
 * Preserve patterns (DESIGN §4): gitignore semantics over target-relative '/'-separated paths.
 * A preserved path is the user's: never backed up, overwritten or deleted. Mistakes here lose user
 * data, so the edge cases that bit other updaters are pinned by tests: `dir/**` includes dotfiles,
 * a trailing slash means the directory and everything beneath it, backslashes are separators, and
 * a preserved SQLite database keeps its -wal/-shm/-journal sidecars.
 */
import picomatch from 'picomatch';

/** The defaults from the original update script, in its order. */
export const DEFAULT_PRESERVE: readonly string[] = Object.freeze([
  'user_data/',
  'config/user_settings.json',
  'logs/',
  'cache/',
  'temp/',
  'backup_*/',
  'staging*/',
  '*.tmp',
  '*.temp',
  '*.bak',
  '.env',
  '.env.*',
  '*.key',
  '*.secret',
  'user_files/',
  'documents/',
  'media/',
  '.DS_Store',
  'Thumbs.db',
  'desktop.ini',
]);

export interface PreserveMatcher {
  readonly patterns: readonly string[];
  /** rel: '/'-separated, relative to the target. isDir: a directory or a symlink to one. */
  isPreserved(rel: string, isDir: boolean): boolean;
}

export interface PreserveOptions {
  /** Match case-insensitively (for targets on case-insensitive disks). Default false, as git. */
  nocase?: boolean;
}

interface Rule {
  test: (s: string) => boolean;
  negated: boolean;
  dirOnly: boolean;
  /** Anchored rules match the whole path from the root; the others match a basename at any depth. */
  anchored: boolean;
}

const SQLITE_SIDECARS = ['-wal', '-shm', '-journal'];
/** Directory decisions are cached; the bound keeps a matcher used on a huge tree from growing forever. */
const CACHE_LIMIT = 200_000;

export function makePreserveMatcher(patterns: readonly string[], opts: PreserveOptions = {}): PreserveMatcher {
  const rules = patterns.map((p) => compile(p, opts.nocase === true)).filter((r): r is Rule => r !== undefined);
  const hasNegation = rules.some((r) => r.negated);
  const dirCache = new Map<string, boolean>();

  /** Whether the last matching rule for this one path (not its ancestors) preserves it. */
  const matchesSelf = (rel: string, base: string, isDir: boolean): boolean => {
    let result = false;
    // Without negations the first match decides; with them gitignore's "last match wins" applies.
    for (let k = hasNegation ? rules.length - 1 : 0; hasNegation ? k >= 0 : k < rules.length; hasNegation ? k-- : k++) {
      const r = rules[k] as Rule;
      if (r.dirOnly && !isDir) continue;
      if (r.test(r.anchored ? rel : base)) {
        result = !r.negated;
        break;
      }
    }
    return result;
  };

  const dirPreserved = (dir: string): boolean => {
    const hit = dirCache.get(dir);
    if (hit !== undefined) return hit;
    const slash = dir.lastIndexOf('/');
    // gitignore: nothing beneath a preserved directory can be re-included, so an ancestor decides.
    const result = (slash >= 0 && dirPreserved(dir.slice(0, slash))) || matchesSelf(dir, dir.slice(slash + 1), true);
    if (dirCache.size >= CACHE_LIMIT) dirCache.clear();
    dirCache.set(dir, result);
    return result;
  };

  const preserved = (rel: string, isDir: boolean): boolean => {
    if (isDir) return dirPreserved(rel);
    const slash = rel.lastIndexOf('/');
    if (slash >= 0 && dirPreserved(rel.slice(0, slash))) return true;
    return matchesSelf(rel, rel.slice(slash + 1), false);
  };

  return {
    patterns: Object.freeze([...patterns]),
    isPreserved(rel: string, isDir: boolean): boolean {
      const p = normalise(rel);
      if (p === '') return false;
      if (preserved(p, isDir)) return true;
      // SQLite writes these beside the database; keeping the database without its WAL loses the
      // last committed transactions, and a stale -journal would corrupt it on next open.
      if (!isDir) {
        for (const suffix of SQLITE_SIDECARS) {
          if (p.endsWith(suffix) && p.length > suffix.length && !p.endsWith(`/${suffix}`)) {
            if (preserved(p.slice(0, -suffix.length), false)) return true;
          }
        }
      }
      return false;
    },
  };
}

function compile(pattern: string, nocase: boolean): Rule | undefined {
  let p = pattern.replace(/\\/g, '/');
  let negated = false;
  if (p.startsWith('!')) {
    negated = true;
    p = p.slice(1);
  }
  let dirOnly = false;
  if (p.endsWith('/')) {
    dirOnly = true;
    p = p.replace(/\/+$/, '');
  }
  let anchored = false;
  if (p.startsWith('/')) {
    anchored = true;
    p = p.replace(/^\/+/, '');
  }
  if (p.includes('/')) anchored = true;
  if (p === '') return undefined;
  // dot: gitignore's '*' matches dotfiles.
  const re = picomatch.makeRe(toPicomatch(p), { dot: true, nobrace: true, noextglob: true, nocase });
  return { test: (s) => re.test(s), negated, dirOnly, anchored };
}

/**
 * gitignore glob → picomatch glob. gitignore knows only '*', '?', '**' and [classes]; picomatch
 * also gives meaning to braces, parentheses, '+', '@', '!' and '|', which in a gitignore pattern are
 * plain characters ("+(x).txt" is a file name there), so those are escaped. gitignore's negated
 * class "[!a]" becomes picomatch's "[^a]".
 */
function toPicomatch(p: string): string {
  let out = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i] as string;
    if (c === '[') {
      // A class runs to the next ']' that is not its first member; without one '[' is literal.
      let j = i + 1;
      if (p[j] === '!' || p[j] === '^') j++;
      if (p[j] === ']') j++;
      const close = p.indexOf(']', j);
      if (close < 0) {
        out += '\\[';
        continue;
      }
      let body = p.slice(i + 1, close);
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      out += `[${body}]`;
      i = close;
    } else if ('(){}+@!|'.includes(c)) {
      out += `\\${c}`;
    } else {
      out += c;
    }
  }
  return out;
}

/** Callers may pass './x', 'x/' or Windows separators; the rules see one canonical form. */
function normalise(rel: string): string {
  let p = rel.includes('\\') ? rel.replace(/\\/g, '/') : rel;
  while (p.startsWith('./')) p = p.slice(2);
  if (p.endsWith('/')) p = p.replace(/\/+$/, '');
  if (p.startsWith('/')) p = p.replace(/^\/+/, '');
  return p;
}
