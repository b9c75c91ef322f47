/**
 * `log`: transactions newest first, filtered by start time, state and count; as a table or as
 * JSON Lines for shipping to a log pipeline.
 */
import { TxnError, type TxnState } from '@codemate-txn/core';
import type { TxnRecord } from '@codemate-txn/journal';
import { layoutOf, readJournal, type AuditLocation } from './open-journal.js';
import { durationMs, formatDuration, formatTable, formatVersions } from './format-table.js';

export const TXN_STATES: readonly TxnState[] = ['staging', 'applying', 'committed', 'done', 'rolling_back', 'rolled_back'];

export interface LogOptions extends AuditLocation {
  /** Transactions started at or after: an ISO-8601 time or date, a Date, or an age (`30m`, `2h`, `7d`, `1w`). */
  since?: string | Date;
  /** Transactions started at or before (a date alone means through the end of that UTC day). */
  until?: string | Date;
  state?: string;
  /** At most this many (the newest). */
  limit?: number;
  /** Clock for ages like `2h` (defaults to now). */
  now?: Date;
}

/** Transactions newest first. Throws E_USAGE for a bad filter, E_NOT_FOUND when there is no journal. */
export function log(opts: LogOptions): TxnRecord[] {
  const now = opts.now ?? new Date();
  const filter: { since?: string; until?: string; state?: string; limit?: number } = {};
  if (opts.since !== undefined) filter.since = parseTime(opts.since, 'since', now);
  if (opts.until !== undefined) filter.until = parseTime(opts.until, 'until', now);
  if (opts.state !== undefined) {
    if (!(TXN_STATES as readonly string[]).includes(opts.state)) {
      throw new TxnError('E_USAGE', `log --state: expected one of ${TXN_STATES.join(', ')}; found '${opts.state}'`);
    }
    filter.state = opts.state;
  }
  if (opts.limit !== undefined) {
    if (!Number.isInteger(opts.limit) || opts.limit < 1) {
      throw new TxnError('E_USAGE', `log --limit: expected a positive whole number; found '${String(opts.limit)}'`);
    }
    filter.limit = opts.limit;
  }
  return readJournal(layoutOf(opts), (j) => j.listTxns(filter));
}

const AGE = /^(\d+)\s*([smhdw])$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const UNIT_MS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };

/**
 * Normalises a time filter to the journal's own format (`Date#toISOString`, UTC) so that text
 * comparison in SQL is time comparison.
 */
export function parseTime(value: string | Date, which: 'since' | 'until', now: Date): string {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw badTime(which, String(value));
    return value.toISOString();
  }
  const v = value.trim();
  const age = AGE.exec(v);
  if (age) return new Date(now.getTime() - Number(age[1]) * (UNIT_MS[age[2] as string] as number)).toISOString();
  if (DATE_ONLY.test(v)) {
    const t = Date.parse(`${v}T00:00:00.000Z`);
    if (Number.isNaN(t)) throw badTime(which, v);
    return new Date(which === 'until' ? t + 86400e3 - 1 : t).toISOString();
  }
  // A time without a zone is the user's local time (Date.parse's reading); it is converted to UTC.
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw badTime(which, v);
  return new Date(t).toISOString();
}

function badTime(which: string, found: string): TxnError {
  return new TxnError(
    'E_USAGE',
    `log --${which}: expected an ISO-8601 time (2024-05-01 or 2024-05-01T12:00:00Z) or an age (30m, 2h, 7d, 1w); found '${found}'`,
  );
}

/** A table: id, start, kind, app, versions, state, duration, error. */
export function formatLog(rows: readonly TxnRecord[]): string {
  if (rows.length === 0) return 'no transactions';
  return formatTable(
    ['ID', 'STARTED', 'KIND', 'APP', 'VERSION', 'STATE', 'TOOK', 'ERROR'],
    rows.map((t) => [
      String(t.id),
      t.startedAt,
      t.kind,
      t.app,
      formatVersions(t.fromVersion, t.toVersion),
      t.state,
      formatDuration(durationMs(t.startedAt, t.finishedAt)),
      t.error === null ? '' : `${t.errorCode ?? 'error'}: ${firstLine(t.error)}`,
    ]),
  );
}

/** One JSON object per transaction, one per line (JSON Lines), each line ending in '\n'. */
export function logJsonl(rows: readonly TxnRecord[]): string {
  return rows.map((r) => JSON.stringify(r) + '\n').join('');
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return i < 0 ? s : `${s.slice(0, i)} …`;
}
