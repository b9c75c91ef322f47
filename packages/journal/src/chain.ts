/**
 * The hash chain that makes the journal's history tamper-evident (docs/AUDITING.md, "Tamper
 * evidence").
 *
 * Every history record — a txn, planned_file, op or event row — takes the next position
 * (`chain_seq`, 1, 2, 3… across the four tables) and carries
 *
 *     hash = hex(sha256(prev + "\n" + JSON.stringify([table, chain_seq, ...facts])))
 *
 * where `prev` is the hash of the record at chain_seq − 1 (64 zeros for record 1) and `facts`
 * are the record's columns that never change after insert, in CHAINED_COLUMNS order. Rows that
 * change state (txn.state, op.state…) are covered through their `event` rows, which are
 * appended, chained, in the same SQLite transaction as the change: the state columns are then a
 * cache of the events, and verify replays the events to check them.
 *
 * One sha256 of a few hundred bytes per record, computed in JS inside the writing SQLite
 * transaction: no custom SQL function, nothing a plain sqlite3 shell cannot read.
 */
import * as crypto from 'node:crypto';
import { GENESIS_HASH } from './schema.js';

export type ChainTable = 'txn' | 'planned_file' | 'op' | 'event';

export const CHAIN_TABLES: readonly ChainTable[] = ['txn', 'planned_file', 'op', 'event'];

/** The recorded facts of each table, in the order they are serialised (and inserted). */
export const CHAINED_COLUMNS: Readonly<Record<ChainTable, readonly string[]>> = {
  txn: [
    'id', 'kind', 'app', 'from_version', 'to_version', 'target', 'staging_dir', 'backup_dir', 'keep_backup',
    'manifest_sha256', 'manifest_source', 'pid', 'host', 'user', 'tool_version', 'started_at',
  ],
  planned_file: ['txn_id', 'path', 'type', 'sha256', 'size', 'mode', 'link_target', 'action', 'managed'],
  op: [
    'txn_id', 'seq', 'phase', 'kind', 'action', 'path', 'src', 'dst', 'ftype', 'size', 'sha256', 'mode',
    'old_mode', 'link_target', 'undo', 'ref_seq', 'at',
  ],
  event: ['txn_id', 'kind', 'seqs', 'state', 'error', 'error_code', 'recovered_by', 'at'],
};

export type SqlValue = string | number | null;

/** crypto.hash (Node ≥ 20.12) is about twice as fast as createHash for inputs this small. */
const oneShot = typeof crypto.hash === 'function' ? crypto.hash : undefined;

function sha256Hex(s: string): string {
  return oneShot ? oneShot('sha256', s, 'hex') : crypto.createHash('sha256').update(s).digest('hex');
}

export function chainHash(prev: string, table: ChainTable, chainSeq: number, facts: readonly SqlValue[]): string {
  return sha256Hex(`${prev}\n${JSON.stringify([table, chainSeq, ...facts])}`);
}

/**
 * A string as SQLite will store and return it. better-sqlite3 writes UTF-8, so a lone UTF-16
 * surrogate (possible in text that came from JSON escapes) comes back as U+FFFD; hashing the
 * stored form keeps an honest record from looking edited.
 */
export function storedText(s: string): string {
  const w = s as string & { isWellFormed?: () => boolean; toWellFormed?: () => string };
  if (w.isWellFormed === undefined || w.toWellFormed === undefined) return s;
  return w.isWellFormed() ? s : w.toWellFormed();
}

/** A value as it will be stored: strings well-formed, booleans as 0/1, undefined as NULL. */
export function sqlValue(v: string | null | undefined): string | null;
export function sqlValue(v: string | number | boolean | null | undefined): SqlValue;
export function sqlValue(v: string | number | boolean | null | undefined): SqlValue {
  if (v === undefined || v === null) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') return storedText(v);
  return v;
}

/** The running end of the chain inside one writing SQLite transaction. */
export class ChainWriter {
  seq: number;
  hash: string;

  constructor(seq = 0, hash = GENESIS_HASH) {
    this.seq = seq;
    this.hash = hash;
  }

  /** Takes the next position for a record with these facts; returns [chain_seq, hash]. */
  next(table: ChainTable, facts: readonly SqlValue[]): [number, string] {
    const seq = this.seq + 1;
    const hash = chainHash(this.hash, table, seq, facts);
    this.seq = seq;
    this.hash = hash;
    return [seq, hash];
  }
}

/** Human name of a record, as verify reports it. */
export function recordName(table: ChainTable | 'installed', row: Record<string, unknown>): string {
  switch (table) {
    case 'txn':
      return `txn ${String(row.id)}`;
    case 'op':
      return `op ${String(row.seq)} of txn ${String(row.txn_id)}`;
    case 'planned_file':
      return `planned_file '${String(row.path)}' of txn ${String(row.txn_id)}`;
    case 'event':
      return `event ${String(row.chain_seq)} of txn ${String(row.txn_id)}`;
    case 'installed':
      return `installed '${String(row.path)}'`;
  }
}
