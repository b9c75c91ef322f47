/**
 * Schema migrations by PRAGMA user_version. All steps from the journal's version to the current
 * one run in ONE SQLite transaction (BEGIN IMMEDIATE): a crash or an error anywhere leaves the
 * journal exactly at its old version. A fresh journal gets the whole current schema at once.
 */
import type Database from 'better-sqlite3';
import { TxnError } from '@codemate-txn/core';
import { CHAINED_COLUMNS, ChainWriter, type ChainTable, type SqlValue } from './chain.js';
import { EVENT_AND_HEAD_SQL, SCHEMA_SQL, SCHEMA_VERSION, STAT_CACHE_SQL, TRIGGERS_SQL, VIEWS_SQL } from './schema.js';

type Row = Record<string, unknown>;

/** MIGRATIONS[n] takes a journal from version n to n+1, inside the caller's SQLite transaction. */
export const MIGRATIONS: Readonly<Record<number, (db: Database.Database) => void>> = {
  1: migrate1to2,
  2: (db) => db.exec(STAT_CACHE_SQL),
};

/**
 * Brings the journal to SCHEMA_VERSION. Throws E_JOURNAL_SCHEMA for a journal newer than this
 * code (nothing is changed).
 */
export function migrate(db: Database.Database, journalPath = 'the journal'): void {
  db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current === SCHEMA_VERSION) return;
    if (current > SCHEMA_VERSION) throw newerSchema(journalPath, current);
    if (current === 0) {
      db.exec(SCHEMA_SQL);
    } else {
      for (let v = current; v < SCHEMA_VERSION; v++) {
        const step = MIGRATIONS[v];
        if (step === undefined) {
          throw new TxnError('E_INTERNAL', `no journal migration from schema ${v} to ${v + 1} (${journalPath})`);
        }
        step(db);
      }
    }
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

export function newerSchema(journalPath: string, found: number): TxnError {
  return new TxnError(
    'E_JOURNAL_SCHEMA',
    `journal ${journalPath} has schema version ${found}; this codemate-txn (schema ${SCHEMA_VERSION}) cannot read or write it`,
    {
      hint: 'it was written by a newer codemate-txn: use that version (or newer); this one never changes a journal it does not understand',
      details: { journal: journalPath, found, supported: SCHEMA_VERSION },
    },
  );
}

/**
 * Schema 1 → 2: appended columns (txn.committed_at; chain_seq and hash on txn, planned_file and
 * op), the event and chain_head tables, the new and extended views, the append-only triggers.
 * Then the existing history is chained, transaction by transaction in id order: the txn row, its
 * planned files (by path), its ops (by seq), then `snapshot` events holding its state columns as
 * found (one for the txn, one per group of ops with the same state, done_at and error). Those
 * records are attested from the migration on: the chain cannot say what happened to them before.
 */
function migrate1to2(db: Database.Database): void {
  db.exec(`
    ALTER TABLE txn ADD COLUMN committed_at TEXT;
    ALTER TABLE txn ADD COLUMN chain_seq INTEGER;
    ALTER TABLE txn ADD COLUMN hash TEXT;
    ALTER TABLE op ADD COLUMN chain_seq INTEGER;
    ALTER TABLE op ADD COLUMN hash TEXT;
    ALTER TABLE planned_file ADD COLUMN chain_seq INTEGER;
    ALTER TABLE planned_file ADD COLUMN hash TEXT;
    DROP VIEW IF EXISTS op_log;
    DROP VIEW IF EXISTS installed_files;
  `);
  db.exec(EVENT_AND_HEAD_SQL);
  db.exec(VIEWS_SQL);

  const chain = new ChainWriter();
  const facts = (table: ChainTable, r: Row): SqlValue[] => CHAINED_COLUMNS[table].map((c) => r[c] as SqlValue);
  const setTxn = db.prepare('UPDATE txn SET chain_seq = ?, hash = ? WHERE id = ?');
  const setPlanned = db.prepare('UPDATE planned_file SET chain_seq = ?, hash = ? WHERE txn_id = ? AND path = ?');
  const setOp = db.prepare('UPDATE op SET chain_seq = ?, hash = ? WHERE txn_id = ? AND seq = ?');
  const planned = db.prepare('SELECT * FROM planned_file WHERE txn_id = ? ORDER BY path');
  const ops = db.prepare('SELECT * FROM op WHERE txn_id = ? ORDER BY seq');
  const insEvent = db.prepare(
    `INSERT INTO event (chain_seq, ${CHAINED_COLUMNS.event.join(', ')}, hash) VALUES (?, ${CHAINED_COLUMNS.event.map(() => '?').join(', ')}, ?)`,
  );
  const event = (values: SqlValue[]): void => {
    const [seq, hash] = chain.next('event', values);
    insEvent.run(seq, ...values, hash);
  };

  for (const t of db.prepare('SELECT * FROM txn ORDER BY id').all() as Row[]) {
    const id = t.id as number;
    setTxn.run(...chain.next('txn', facts('txn', t)), id);
    for (const p of planned.all(id) as Row[]) setPlanned.run(...chain.next('planned_file', facts('planned_file', p)), id, p.path);
    const groups = new Map<string, { state: string; at: string | null; error: string | null; seqs: number[] }>();
    for (const o of ops.all(id) as Row[]) {
      setOp.run(...chain.next('op', facts('op', o)), id, o.seq);
      const g = { state: o.state as string, at: (o.done_at as string | null) ?? null, error: (o.error as string | null) ?? null };
      if (g.state === 'pending' && g.at === null && g.error === null) continue; // as inserted: nothing to record
      const key = JSON.stringify([g.state, g.at, g.error]);
      const found = groups.get(key);
      if (found) found.seqs.push(o.seq as number);
      else groups.set(key, { ...g, seqs: [o.seq as number] });
    }
    // event facts: txn_id, kind, seqs, state, error, error_code, recovered_by, at
    event([id, 'snapshot', null, t.state as string, (t.error as string | null) ?? null, (t.error_code as string | null) ?? null,
      (t.recovered_by as string | null) ?? null, (t.finished_at as string | null) ?? null]);
    for (const g of groups.values()) event([id, 'snapshot', JSON.stringify(g.seqs), g.state, g.error, null, null, g.at]);
  }
  db.prepare('UPDATE chain_head SET seq = ?, hash = ? WHERE one = 1').run(chain.seq, chain.hash);
  // Last: the triggers forbid the UPDATEs above.
  db.exec(TRIGGERS_SQL);
}
