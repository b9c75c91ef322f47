/**
 * Checks the journal's hash chain (chain.ts) and everything derived from it, in one read
 * transaction, streaming (memory bounded by the largest transaction, not the journal):
 *
 *  1. the chain: positions 1..n each taken once, each record's hash recomputed from the previous
 *     hash and its facts, and the chain head at record n;
 *  2. the state columns of txn and op rows against a replay of their chained events;
 *  3. structure: ops of a transaction numbered 1..n, no rows of a transaction that does not exist;
 *  4. the installed set against the one the committed transactions' chained plans produce;
 *  5. the append-only triggers are all there;
 *  6. optionally, an anchor (a chain position and hash recorded earlier, outside the journal).
 */
import type Database from 'better-sqlite3';
import { CHAIN_TABLES, CHAINED_COLUMNS, chainHash, recordName, type ChainTable, type SqlValue } from './chain.js';
import { nextInstalledSet, type PlannedRow } from './installed-set.js';
import { GENESIS_HASH, TRIGGER_NAMES } from './schema.js';
import type { EntryType } from '@codemate-txn/core';

export type ChainProblemKind =
  | 'schema' // the journal predates the chain
  | 'hash' // a record's facts (or the record before it) changed
  | 'missing' // a chain position or an op seq is gone
  | 'duplicate' // two records claim one chain position
  | 'unchained' // a row outside the chain (added by something other than codemate-txn)
  | 'head' // the chain head does not name the last record
  | 'state' // a state column disagrees with the chained events
  | 'orphan' // a row or event refers to a transaction or op that does not exist
  | 'installed' // the installed set is not what the committed transactions installed
  | 'guard' // an append-only trigger was dropped
  | 'anchor'; // the record at an anchored position no longer has the anchored hash

export interface ChainProblem {
  /** Chain position where the problem shows; null for rows outside the chain. */
  at: number | null;
  /** The record, named for people: `op 5 of txn 2`, `txn 3`, `installed 'index.js'`. */
  record: string;
  kind: ChainProblemKind;
  /** What was expected, what was found. */
  message: string;
}

export interface ChainReport {
  schemaVersion: number;
  /** No problem found. */
  intact: boolean;
  /** Records in the chain (rows with a chain position). */
  records: number;
  txns: number;
  /** The chain head as recorded in the journal. */
  head: { seq: number; hash: string } | null;
  /**
   * Transactions written before schema 2 and chained by the migration: the chain proves they have
   * not changed since the migration, not before it. null when there are none.
   */
  migrated: { txnIds: number[]; throughRecord: number } | null;
  /**
   * Breaks of the chain itself first, then disagreements of state columns, the installed set and
   * the triggers; each group by chain position (rows outside the chain last). problems[0] is the
   * first record that does not match.
   */
  problems: ChainProblem[];
  /** More problems were found than are listed. */
  truncated: boolean;
}

export interface ChainCheckOptions {
  /** A position and hash recorded earlier (e.g. a previous report's head): must still be there. */
  anchor?: { seq: number; hash: string };
  /** Stop listing after this many problems (default 1000). */
  maxProblems?: number;
}

type Row = Record<string, unknown>;

const FINAL_OR_COMMITTED = new Set(['committed', 'done']);

class Problems {
  readonly list: ChainProblem[] = [];
  truncated = false;
  constructor(private readonly max: number) {}
  add(p: ChainProblem): void {
    if (this.list.length >= this.max) {
      this.truncated = true;
      return;
    }
    this.list.push(p);
  }
}

export function verifyChain(db: Database.Database, opts: ChainCheckOptions = {}): ChainReport {
  const schemaVersion = db.pragma('user_version', { simple: true }) as number;
  const problems = new Problems(Math.max(1, opts.maxProblems ?? 1000));
  if (schemaVersion < 2) {
    problems.add({
      at: null, record: 'journal', kind: 'schema',
      message: `the journal has schema version ${schemaVersion}, which predates the hash chain (schema 2): there is nothing to verify; the next apply or recover migrates it and chains its records`,
    });
    return { schemaVersion, intact: false, records: 0, txns: 0, head: null, migrated: null, problems: problems.list, truncated: false };
  }
  // One read transaction: a consistent snapshot even while an apply is writing.
  return db.transaction(() => {
    const records = checkLinks(db, problems);
    const head = (db.prepare('SELECT seq, hash FROM chain_head WHERE one = 1').get() as { seq: number; hash: string } | undefined) ?? null;
    checkHead(head, records, problems);
    const { txns, migrated } = checkStates(db, problems);
    checkGuards(db, problems);
    if (opts.anchor) checkAnchor(db, opts.anchor, problems);
    const list = problems.list.sort((a, b) => rank(a) - rank(b) || (a.at ?? Infinity) - (b.at ?? Infinity));
    return {
      schemaVersion, intact: list.length === 0, records: records.count, txns, head, migrated,
      problems: list, truncated: problems.truncated,
    };
  })();
}

/**
 * The chain's own breaks come first: a state column or installed row that disagrees is often the
 * consequence of an edited or deleted chain record, and the record is what an auditor needs.
 */
const CHAIN_KINDS: ReadonlySet<ChainProblemKind> = new Set(['hash', 'missing', 'duplicate', 'unchained', 'head', 'anchor', 'schema']);

function rank(p: ChainProblem): number {
  return CHAIN_KINDS.has(p.kind) ? 0 : 1;
}

// --- 1. the chain ------------------------------------------------------------------------------

interface Cursor {
  table: ChainTable;
  it: IterableIterator<Row>;
  cur: Row | undefined;
}

function advance(c: Cursor): void {
  const n = c.it.next();
  c.cur = n.done ? undefined : n.value;
}

/** Merges the four tables by chain position and checks each link. */
function checkLinks(db: Database.Database, problems: Problems): { count: number; lastSeq: number; lastHash: string; lastName: string } {
  const cursors: Cursor[] = CHAIN_TABLES.map((table) => {
    const cols = CHAINED_COLUMNS[table].filter((c) => c !== 'chain_seq');
    const sql = `SELECT chain_seq, hash, ${cols.join(', ')} FROM ${table} ORDER BY chain_seq`;
    const c: Cursor = { table, it: db.prepare(sql).iterate() as IterableIterator<Row>, cur: undefined };
    advance(c);
    return c;
  });
  let expected = 1;
  let prevHash = GENESIS_HASH;
  let prevName = 'the start of the chain';
  let count = 0;
  for (;;) {
    let pick: Cursor | undefined;
    for (const c of cursors) {
      if (c.cur === undefined) continue;
      if (pick === undefined || order(c.cur) < order(pick.cur as Row)) pick = c;
    }
    if (pick === undefined) break;
    const row = pick.cur as Row;
    advance(pick);
    const name = recordName(pick.table, row);
    const seq = row.chain_seq;
    if (seq === null || seq === undefined) {
      problems.add({ at: null, record: name, kind: 'unchained', message: `${name} has no chain position: it was not written by codemate-txn (inserted by hand?)` });
      continue;
    }
    if (typeof seq !== 'number' || !Number.isInteger(seq)) {
      problems.add({ at: null, record: name, kind: 'unchained', message: `${name} has chain position ${JSON.stringify(seq)}, not a whole number` });
      continue;
    }
    count++;
    if (seq < expected) {
      problems.add({ at: seq, record: name, kind: 'duplicate', message: `${name} claims chain position ${seq}, which ${prevName} already holds: one of them was added by hand` });
      continue;
    }
    if (seq > expected) {
      const gap = seq - expected === 1 ? `record ${expected} is` : `records ${expected} to ${seq - 1} are`;
      problems.add({ at: expected, record: `chain record ${expected}`, kind: 'missing', message: `${gap} missing: the chain jumps from ${prevName} to ${name} (deleted)` });
      // The missing record's hash is unknown: take this one's on trust and go on from it.
      prevHash = typeof row.hash === 'string' ? row.hash : prevHash;
      prevName = name;
      expected = seq + 1;
      continue;
    }
    const facts = CHAINED_COLUMNS[pick.table].map((c) => row[c] as SqlValue);
    const want = chainHash(prevHash, pick.table, seq, facts);
    if (row.hash !== want) {
      problems.add({
        at: seq, record: name, kind: 'hash',
        message: `${name} (chain record ${seq}) does not match its hash: its recorded facts were changed, or ${prevName} before it was rewritten`,
      });
    }
    // Go on from the stored hash, so that one edited record is reported once.
    prevHash = typeof row.hash === 'string' ? row.hash : want;
    prevName = name;
    expected = seq + 1;
  }
  return { count, lastSeq: expected - 1, lastHash: prevHash, lastName: prevName };
}

function order(r: Row): number {
  const s = r.chain_seq;
  return typeof s === 'number' ? s : -Infinity;
}

function checkHead(
  head: { seq: number; hash: string } | null,
  last: { lastSeq: number; lastHash: string; lastName: string },
  problems: Problems,
): void {
  if (head === null) {
    problems.add({ at: last.lastSeq, record: 'chain head', kind: 'head', message: 'the chain head row is missing (deleted by hand)' });
    return;
  }
  if (head.seq > last.lastSeq) {
    const what = head.seq - last.lastSeq === 1 ? `record ${head.seq} is` : `records ${last.lastSeq + 1} to ${head.seq} are`;
    problems.add({ at: last.lastSeq + 1, record: `chain record ${last.lastSeq + 1}`, kind: 'missing', message: `${what} missing from the end: the chain head says the last record is ${head.seq}, found ${last.lastSeq === 0 ? 'none' : `${last.lastSeq} (${last.lastName})`}` });
  } else if (head.seq < last.lastSeq) {
    problems.add({ at: head.seq + 1, record: `chain record ${head.seq + 1}`, kind: 'head', message: `the chain head says the last record is ${head.seq}, but the chain goes on to ${last.lastSeq} (${last.lastName}): records were added by hand` });
  } else if (head.hash !== last.lastHash) {
    problems.add({ at: head.seq, record: last.lastName, kind: 'head', message: `the chain head's hash is not ${last.lastName}'s: the last record or the head was rewritten` });
  }
}

// --- 2-4. states, structure, installed set ------------------------------------------------------

interface TxnState {
  state: string | null;
  finished_at: string | null;
  error: string | null;
  error_code: string | null;
  recovered_by: string | null;
  committed_at: string | null;
}

interface OpState {
  state: string | null;
  done_at: string | null;
  error: string | null;
}

function checkStates(db: Database.Database, problems: Problems): { txns: number; migrated: ChainReport['migrated'] } {
  const txnRows = db.prepare('SELECT * FROM txn ORDER BY id').iterate() as IterableIterator<Row>;
  const eventsOf = db.prepare('SELECT * FROM event WHERE txn_id = ? ORDER BY chain_seq');
  const opsOf = db.prepare('SELECT txn_id, seq, state, done_at, error, chain_seq FROM op WHERE txn_id = ? ORDER BY seq');
  const plannedOf = db.prepare('SELECT * FROM planned_file WHERE txn_id = ? ORDER BY path');
  let installed = new Map<string, ReturnType<typeof nextInstalledSet>[number]>();
  let txns = 0;
  const migratedIds: number[] = [];
  let migratedThrough = 0;

  for (const t of txnRows) {
    txns++;
    const id = t.id as number;
    const txnAt = typeof t.chain_seq === 'number' ? t.chain_seq : null;
    const txnName = `txn ${id}`;
    const want: TxnState = { state: 'staging', finished_at: null, error: null, error_code: null, recovered_by: null, committed_at: null };
    const ops = new Map<number, { row: Row; want: OpState }>();
    let maxSeq = 0;
    for (const o of opsOf.iterate(id) as IterableIterator<Row>) {
      ops.set(o.seq as number, { row: o, want: { state: 'pending', done_at: null, error: null } });
      maxSeq = Math.max(maxSeq, o.seq as number);
    }
    // Ops are numbered 1..n (opsOf is ordered by seq, so is the map).
    let expectSeq = 1;
    for (const [seq, o] of ops) {
      for (let s = expectSeq; s < seq; s++) {
        const at = typeof o.row.chain_seq === 'number' ? o.row.chain_seq : null;
        problems.add({ at, record: `op ${s} of txn ${id}`, kind: 'missing', message: `op ${s} of txn ${id} is missing: txn ${id} has ops 1 to ${maxSeq} without it (deleted)` });
      }
      expectSeq = seq + 1;
    }

    for (const e of eventsOf.iterate(id) as IterableIterator<Row>) {
      const at = (e.at as string | null) ?? null;
      const evName = `event ${String(e.chain_seq)} of txn ${id}`;
      if (e.kind === 'snapshot') {
        migratedThrough = Math.max(migratedThrough, e.chain_seq as number);
        if (e.seqs === null) migratedIds.push(id);
      }
      if (e.seqs === null || e.seqs === undefined) {
        if (e.kind === 'snapshot') {
          want.state = (e.state as string | null) ?? null;
          want.finished_at = at;
          want.error = (e.error as string | null) ?? null;
          want.error_code = (e.error_code as string | null) ?? null;
          want.recovered_by = (e.recovered_by as string | null) ?? null;
          continue;
        }
        if (e.kind === 'state' && typeof e.state === 'string') {
          want.state = e.state;
          if (e.state === 'done' || e.state === 'rolled_back') want.finished_at = at;
          if (e.state === 'committed' && want.committed_at === null) want.committed_at = at;
        }
        want.error = want.error ?? ((e.error as string | null) ?? null);
        want.error_code = want.error_code ?? ((e.error_code as string | null) ?? null);
        want.recovered_by = (e.recovered_by as string | null) ?? want.recovered_by;
        continue;
      }
      let seqs: unknown;
      try {
        seqs = JSON.parse(String(e.seqs));
      } catch {
        seqs = undefined;
      }
      if (!Array.isArray(seqs)) {
        problems.add({ at: (e.chain_seq as number) ?? null, record: evName, kind: 'orphan', message: `${evName} names its ops as ${JSON.stringify(e.seqs)}, not a JSON array of seqs` });
        continue;
      }
      for (const s of seqs) {
        const o = ops.get(s as number);
        if (o === undefined) {
          if (typeof s === 'number' && s <= maxSeq) continue; // reported above as missing
          problems.add({ at: (e.chain_seq as number) ?? null, record: evName, kind: 'orphan', message: `${evName} marks op ${String(s)} of txn ${id}, which does not exist` });
          continue;
        }
        if (e.kind === 'snapshot') {
          o.want = { state: (e.state as string | null) ?? null, done_at: at, error: (e.error as string | null) ?? null };
        } else {
          o.want.state = (e.state as string | null) ?? null;
          o.want.done_at = at;
          o.want.error = (e.error as string | null) ?? o.want.error;
        }
      }
    }

    for (const k of ['state', 'finished_at', 'error', 'error_code', 'recovered_by', 'committed_at'] as const) {
      const found = (t[k] as string | null | undefined) ?? null;
      if (found !== want[k]) {
        problems.add({ at: txnAt, record: txnName, kind: 'state', message: `${txnName}: ${k} is ${show(found)}, but its chained events say ${show(want[k])}` });
      }
    }
    for (const [seq, o] of ops) {
      for (const k of ['state', 'done_at', 'error'] as const) {
        const found = (o.row[k] as string | null | undefined) ?? null;
        if (found !== o.want[k]) {
          const at = typeof o.row.chain_seq === 'number' ? o.row.chain_seq : null;
          problems.add({ at, record: `op ${seq} of txn ${id}`, kind: 'state', message: `op ${seq} of txn ${id}: ${k} is ${show(found)}, but its chained events say ${show(o.want[k])}` });
        }
      }
    }

    if (want.state !== null && FINAL_OR_COMMITTED.has(want.state)) {
      const planned: PlannedRow[] = (plannedOf.all(id) as Row[]).map((p) => ({
        path: p.path as string, type: p.type as EntryType, sha256: (p.sha256 as string | null) ?? null,
        size: (p.size as number | null) ?? null, mode: (p.mode as number | null) ?? null,
        linkTarget: (p.link_target as string | null) ?? null, action: p.action as string, managed: p.managed === 1,
      }));
      installed = new Map(nextInstalledSet(installed, planned, id, t.to_version as string).map((r) => [r.path, r]));
    }
  }

  checkOrphans(db, problems);
  checkInstalled(db, installed, problems);
  const migrated = migratedIds.length > 0 ? { txnIds: migratedIds, throughRecord: migratedThrough } : null;
  return { txns, migrated };
}

function show(v: string | null): string {
  return v === null ? 'NULL' : `'${v}'`;
}

/** Rows of a transaction that does not exist (its txn row was deleted). */
function checkOrphans(db: Database.Database, problems: Problems): void {
  for (const table of ['op', 'planned_file', 'event'] as const) {
    const rows = db
      .prepare(`SELECT txn_id, count(*) AS n, min(chain_seq) AS first FROM ${table} WHERE txn_id NOT IN (SELECT id FROM txn) GROUP BY txn_id`)
      .all() as Row[];
    for (const r of rows) {
      problems.add({
        at: (r.first as number | null) ?? null, record: `txn ${String(r.txn_id)}`, kind: 'orphan',
        message: `${String(r.n)} ${table} row(s) belong to txn ${String(r.txn_id)}, which is not in the journal (its txn row was deleted)`,
      });
    }
  }
}

function checkInstalled(db: Database.Database, want: Map<string, ReturnType<typeof nextInstalledSet>[number]>, problems: Problems): void {
  const seen = new Set<string>();
  for (const r of db.prepare('SELECT * FROM installed ORDER BY path').iterate() as IterableIterator<Row>) {
    const p = r.path as string;
    const name = `installed '${p}'`;
    seen.add(p);
    const w = want.get(p);
    if (w === undefined) {
      problems.add({ at: null, record: name, kind: 'installed', message: `${name} is in the installed set, but no committed transaction installed it` });
      continue;
    }
    const pairs: Array<[string, unknown, unknown]> = [
      ['type', r.type, w.type], ['sha256', r.sha256, w.sha256], ['size', r.size, w.size], ['mode', r.mode, w.mode],
      ['link_target', r.link_target, w.linkTarget], ['version', r.version, w.version], ['txn_id', r.txn_id, w.txnId],
    ];
    for (const [k, found, expected] of pairs) {
      if ((found ?? null) !== (expected ?? null)) {
        problems.add({ at: null, record: name, kind: 'installed', message: `${name}: ${k} is ${JSON.stringify(found ?? null)}, but the committed transactions installed ${JSON.stringify(expected ?? null)}` });
      }
    }
  }
  for (const p of want.keys()) {
    if (!seen.has(p)) problems.add({ at: null, record: `installed '${p}'`, kind: 'installed', message: `installed '${p}' is missing from the installed set, but transaction ${String(want.get(p)?.txnId)} installed it` });
  }
}

// --- 5-6. triggers, anchor -----------------------------------------------------------------------

function checkGuards(db: Database.Database, problems: Problems): void {
  const have = new Set((db.prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger'`).all() as Row[]).map((r) => r.name as string));
  for (const t of TRIGGER_NAMES) {
    if (!have.has(t)) problems.add({ at: null, record: `trigger ${t}`, kind: 'guard', message: `the append-only trigger ${t} is missing: someone dropped it to change history` });
  }
}

function checkAnchor(db: Database.Database, anchor: { seq: number; hash: string }, problems: Problems): void {
  for (const table of CHAIN_TABLES) {
    const r = db.prepare(`SELECT * FROM ${table} WHERE chain_seq = ?`).get(anchor.seq) as Row | undefined;
    if (r === undefined) continue;
    if (r.hash !== anchor.hash.toLowerCase()) {
      problems.add({ at: anchor.seq, record: recordName(table, r), kind: 'anchor', message: `the anchor says chain record ${anchor.seq} has hash ${anchor.hash}; ${recordName(table, r)} there has ${String(r.hash)}: history up to it was rewritten` });
    }
    return;
  }
  problems.add({ at: anchor.seq, record: `chain record ${anchor.seq}`, kind: 'anchor', message: `the anchor names chain record ${anchor.seq}, which is not in the journal` });
}
