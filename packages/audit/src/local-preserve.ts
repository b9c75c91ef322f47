/**
 * Stand-in for the preserve matcher of @codemate-txn/manifest while that package is being
 * written: same names and shape (`DEFAULT_PRESERVE`, `makePreserveMatcher(patterns).isPreserved`),
 * so switching is a one-line import change in verify.ts (then delete this file).
 *
 * Gitignore semantics as DESIGN §4 states them: a pattern without an inner slash matches a
 * basename at any depth; a trailing slash means a directory and everything beneath it; an inner
 * (or leading) slash anchors the pattern at the target's root. `*` and `?` stay within one
 * segment, `**` spans segments. A match on a directory covers everything beneath it.
 */

/** The default preserve list (DESIGN §4). */
export const DEFAULT_PRESERVE: readonly string[] = [
  'user_data/', 'config/user_settings.json', 'logs/', 'cache/', 'temp/', 'backup_*/', 'staging*/',
  '*.tmp', '*.temp', '*.bak', '.env', '.env.*', '*.key', '*.secret', 'user_files/', 'documents/',
  'media/', '.DS_Store', 'Thumbs.db', 'desktop.ini',
];

export interface PreserveMatcher {
  /** Whether `rel` (a '/'-separated path inside the target) is preserved; isDir: it is a directory. */
  isPreserved(rel: string, isDir: boolean): boolean;
}

interface Compiled {
  re: RegExp;
  anchored: boolean;
  dirOnly: boolean;
}

function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        // '**/' matches zero or more whole segments; a bare '**' anything.
        if (glob[i + 2] === '/') { out += '(?:.*/)?'; i += 2; } else { out += '.*'; i += 1; }
      } else {
        out += '[^/]*';
      }
    } else if (c === '?') {
      out += '[^/]';
    } else {
      out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${out}$`);
}

function compile(pattern: string): Compiled | undefined {
  let p = pattern.trim();
  const dirOnly = p.endsWith('/');
  p = p.replace(/\/+$/, '');
  const anchored = p.includes('/');
  p = p.replace(/^\/+/, '');
  if (p === '') return undefined;
  return { re: globToRegExp(p), anchored, dirOnly };
}

export function makePreserveMatcher(patterns: readonly string[]): PreserveMatcher {
  const compiled = patterns.map(compile).filter((c): c is Compiled => c !== undefined);
  return {
    isPreserved(rel: string, isDir: boolean): boolean {
      const parts = rel.split('/');
      for (let i = 1; i <= parts.length; i++) {
        const candidate = parts.slice(0, i).join('/');
        const candIsDir = i < parts.length || isDir;
        const base = parts[i - 1] as string;
        for (const c of compiled) {
          if (c.dirOnly && !candIsDir) continue;
          if (c.re.test(c.anchored ? candidate : base)) return true;
        }
      }
      return false;
    },
  };
}
