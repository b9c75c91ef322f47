/**
 * Queries a database through the real `sqlite3` shell, as an auditor would (DESIGN §8), so
 * tests prove the views need no custom functions. Invocation:
 *   sqlite3 -batch -bail -noheader -separator '|' -cmd '.timeout 5000' <db> <sql>
 * A missing database file is an error (the shell would silently create an empty one).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

export interface Sqlite3Options {
  /** Open with -readonly. */
  readonly?: boolean;
}

/**
 * Runs `sql` (one or more statements, or a dot-command) and returns the output in list mode:
 * one line per row, columns joined by '|', no header, trailing newline removed.
 * Throws with the shell's stderr when it exits non-zero.
 */
export function sqlite3(dbPath: string, sql: string, opts: Sqlite3Options = {}): string {
  return run(dbPath, sql, ['-noheader', '-separator', '|'], opts).replace(/\n$/, '');
}

/** Runs a query in `-json` mode and returns its rows as objects keyed by column name. */
export function sqlite3Json(dbPath: string, sql: string, opts: Sqlite3Options = {}): Array<Record<string, unknown>> {
  const out = run(dbPath, sql, ['-json'], opts).trim();
  return out === '' ? [] : (JSON.parse(out) as Array<Record<string, unknown>>);
}

let available: boolean | undefined;

/** Whether a `sqlite3` shell is on PATH (tests skip shell checks without one). */
export function sqlite3Available(): boolean {
  if (available === undefined) {
    const r = spawnSync('sqlite3', ['-version'], { stdio: 'ignore' });
    available = r.status === 0;
  }
  return available;
}

function run(dbPath: string, sql: string, mode: string[], opts: Sqlite3Options): string {
  if (!fs.existsSync(dbPath)) {
    throw new Error(`sqlite3: no database at ${dbPath}: expected an existing file, found nothing`);
  }
  const args = ['-batch', '-bail', ...mode, '-cmd', '.timeout 5000'];
  if (opts.readonly) args.push('-readonly');
  args.push(dbPath, sql);
  try {
    return execFileSync('sqlite3', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 });
  } catch (e: unknown) {
    const stderr = (e as { stderr?: unknown }).stderr;
    const detail = typeof stderr === 'string' && stderr.trim() !== '' ? stderr.trim() : String(e);
    throw new Error(`sqlite3: query failed on ${dbPath}: ${detail}\n  sql: ${sql}`, { cause: e });
  }
}
