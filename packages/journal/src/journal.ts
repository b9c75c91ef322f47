/**
 * The open journal: typed appends and queries over SQLite (better-sqlite3). All SQL and PRAGMAs
 * of the project live in this package. Transactions are short and synchronous: no await inside.
 *
 * Every write also extends the hash chain (chain.ts) in the same SQLite transaction: each
 * inserted txn, planned_file and op row, and one `event` row per change of state (a txn's state
 * or error, a batch of op marks). The chain head is read at the start of each write and stored
 * at its end, so a crash or a rollback of the SQLite transaction leaves chain and rows together.
 */
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { TxnError, type InstalledFile, type TxnKind, type TxnState, type EntryType } from '@codemate-txn/core';
import { GENESIS_HASH, SCHEMA_VERSION } from './schema.js';
import { migrate, newerSchema } from './migrate.js';
import { CHAIN_TABLES, CHAINED_COLUMNS, ChainWriter, sqlValue, type ChainTable, type SqlValue } from './chain.js';
import type { PlannedRow } from './installed-set.js';
import { verifyChain, type ChainCheckOptions, type ChainReport } from './verify-chain.js';

export type OpPhase = 'stage' | 'apply' | 'cleanup' | 'undo' | 'redo';
export type OpKind = 'mkdir' | 'write' | 'rename' | 'chmod' | 'rmdir' | 'rmtree' | 'symlink' | 'fingerprint';
export type UndoKind = 'rename-back' | 'rmdir' | 'rmtree' | 'chmod-back' | 'none';
export type OpState = 'pending' | 'done' | 'undone' | 'skipped' | 'failed';

export interface OpIntent {
  phase: OpPhase;
  kind: OpKind;
  action?: string | null;
  path: string;
  src?: string | null;
  dst?: string | null;
  ftype?: EntryType | null;
  size?: number | null;
  sha256?: string | null;
  mode?: number | null;
  oldMode?: number | null;
  linkTarget?: string | null;
  undo: UndoKind;
  refSeq?: number | null;
}

export interface OpRecord extends Required<{ [K in keyof OpIntent]: Exclude<OpIntent[K], undefined> }> {
  txnId: number;
  seq: number;
  state: OpState;
  at: string;
  doneAt: string | null;
  error: string | null;
  /** Chain hash of the op's intent (null in a journal older than schema 2). */
  hash: string | null;
}

export interface TxnBegin {
  kind: TxnKind;
  app: string;
  fromVersion: string | null;
  toVersion: string;
  target: string;
  stagingDir: string;
  backupDir: string | null;
  keepBackup: boolean;
  manifestSha256: string;
  manifestSource: string;
  pid: number;
  host: string;
  user: string;
  toolVersion: string;
}

export interface TxnRecord extends TxnBegin {
  id: number;
  state: TxnState;
  startedAt: string;
  finishedAt: string | null;
  error: string | null;
  errorCode: string | null;
  recoveredBy: string | null;
  /** When it passed the commit point (null before, and for transactions older than schema 2). */
  committedAt: string | null;
  /** Position and hash of its txn record in the hash chain (null before schema 2). */
  chainSeq: number | null;
  hash: string | null;
}

export interface StatCacheRow {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  sha256: string;
}

/** One path of the installed set a transaction will leave (planned_file). */
export type PlannedFile = PlannedRow;

export interface JournalOptions {
  readonly?: boolean;
  /**
   * Read without writing, but through a read-write connection when the filesystem allows, so
   * SQLite removes the -wal/-shm sidecars it makes on close and the directory is left exactly as
   * found (--dry-run). No migration. Falls back to a read-only connection.
   */
  peek?: boolean;
  /** Called after every durable commit (the fault seam's crash point). */
  onCommit?: (label: string) => void;
  /** Clock for timestamps; ISO-8601 UTC text is stored. */
  now?: () => Date;
}

type Row = Record<string, unknown>;

/** The columns planned_file and installed share: what a path is. */
function entryFacts(r: Row): { path: string; type: EntryType; sha256: string | null; size: number | null; mode: number | null; linkTarget: string | null } {
  return {
    path: r.path as string,
    type: r.type as EntryType,
    sha256: (r.sha256 as string | null) ?? null,
    size: (r.size as number | null) ?? null,
    mode: (r.mode as number | null) ?? null,
    linkTarget: (r.link_target as string | null) ?? null,
  };
}

function toTxn(r: Row): TxnRecord {
  return {
    id: r.id as number,
    kind: r.kind as TxnKind,
    app: r.app as string,
    fromVersion: (r.from_version as string | null) ?? null,
    toVersion: r.to_version as string,
    state: r.state as TxnState,
    target: r.target as string,
    stagingDir: r.staging_dir as string,
    backupDir: (r.backup_dir as string | null) ?? null,
    keepBackup: r.keep_backup === 1,
    manifestSha256: r.manifest_sha256 as string,
    manifestSource: r.manifest_source as string,
    pid: r.pid as number,
    host: r.host as string,
    user: r.user as string,
    toolVersion: r.tool_version as string,
    startedAt: r.started_at as string,
    finishedAt: (r.finished_at as string | null) ?? null,
    error: (r.error as string | null) ?? null,
    errorCode: (r.error_code as string | null) ?? null,
    recoveredBy: (r.recovered_by as string | null) ?? null,
    committedAt: (r.committed_at as string | null | undefined) ?? null,
    chainSeq: (r.chain_seq as number | null | undefined) ?? null,
    hash: (r.hash as string | null | undefined) ?? null,
  };
}

function toOp(r: Row): OpRecord {
  return {
    txnId: r.txn_id as number,
    seq: r.seq as number,
    phase: r.phase as OpPhase,
    kind: r.kind as OpKind,
    action: (r.action as string | null) ?? null,
    path: r.path as string,
    src: (r.src as string | null) ?? null,
    dst: (r.dst as string | null) ?? null,
    ftype: (r.ftype as EntryType | null) ?? null,
    size: (r.size as number | null) ?? null,
    sha256: (r.sha256 as string | null) ?? null,
    mode: (r.mode as number | null) ?? null,
    oldMode: (r.old_mode as number | null) ?? null,
    linkTarget: (r.link_target as string | null) ?? null,
    undo: r.undo as UndoKind,
    refSeq: (r.ref_seq as number | null) ?? null,
    state: r.state as OpState,
    at: r.at as string,
    doneAt: (r.done_at as string | null) ?? null,
    error: (r.error as string | null) ?? null,
    hash: (r.hash as string | null | undefined) ?? null,
  };
}

type EventKind = 'state' | 'error' | 'ops' | 'snapshot';

export class Journal {
  readonly path: string;
  readonly readonly: boolean;
  private readonly db: Database.Database;
  private readonly onCommit: (label: string) => void;
  private readonly now: () => Date;
  private nextSeq = new Map<number, number>();
  private readonly stmts = new Map<string, Database.Statement>();
  private readonly inserts = new Map<string, Database.Statement>();

  private constructor(path: string, db: Database.Database, opts: JournalOptions) {
    this.path = path;
    this.db = db;
    this.readonly = opts.readonly === true;
    this.onCommit = opts.onCommit ?? (() => {});
    this.now = opts.now ?? (() => new Date());
  }

  /**
   * Opens (creating with mode 0600 when writable) and migrates the journal. WAL, synchronous=FULL:
   * a commit is durable when this returns, and readers never block the writer. A journal newer
   * than this code is refused (E_JOURNAL_SCHEMA) before anything is written; read-only opens never
   * migrate (they read an older journal as it is).
   */
  static open(path: string, opts: JournalOptions = {}): Journal {
    if (opts.peek) {
      try {
        const db = new Database(path, { fileMustExist: true });
        const j = new Journal(path, db, { ...opts, readonly: true });
        j.checkVersion();
        return j;
      } catch (e: unknown) {
        if (e instanceof TxnError) throw e;
        return Journal.open(path, { ...opts, peek: false, readonly: true });
      }
    }
    if (opts.readonly) {
      if (!fs.existsSync(path)) {
        throw new TxnError('E_NOT_FOUND', `no journal at ${path}`, {
          hint: 'nothing has been installed at this target yet, or pass --journal PATH',
        });
      }
      let db = new Database(path, { readonly: true, fileMustExist: true });
      let snapshotDir: string | undefined;
      try {
        db.prepare('SELECT count(*) FROM sqlite_master').get();
      } catch (e: unknown) {
        // A WAL journal on a read-only filesystem: SQLite cannot create the -shm it needs even to
        // read. Nothing can be writing it there, so a private copy is an exact snapshot.
        if (!String((e as { code?: string }).code ?? '').startsWith('SQLITE_CANTOPEN')) throw e;
        db.close();
        snapshotDir = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'codemate-journal-'));
        const copy = nodePath.join(snapshotDir, 'journal.db');
        fs.copyFileSync(path, copy);
        if (fs.existsSync(`${path}-wal`)) fs.copyFileSync(`${path}-wal`, `${copy}-wal`);
        db = new Database(copy, { readonly: true, fileMustExist: true });
      }
      const j = new Journal(path, db, opts);
      j.snapshotDir = snapshotDir;
      j.checkVersion();
      return j;
    }
    // Create the file ourselves so it is 0600 from its first byte; SQLite gives -wal/-shm the same mode.
    const fd = fs.openSync(path, 'a', 0o600);
    fs.closeSync(fd);
    fs.chmodSync(path, 0o600);
    const db = new Database(path);
    try {
      db.pragma('busy_timeout = 5000');
      const j = new Journal(path, db, opts);
      j.checkVersion(); // before anything could write to a journal this code does not understand
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      migrate(db, path);
      return j;
    } catch (e: unknown) {
      db.close();
      throw e;
    }
  }

  private checkVersion(): void {
    const v = this.db.pragma('user_version', { simple: true }) as number;
    if (v > SCHEMA_VERSION) {
      this.db.close();
      throw newerSchema(this.path, v);
    }
  }

  /** The journal's PRAGMA user_version. */
  schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  /** A private copy this reader opened (journal on a read-only filesystem); removed on close. */
  private snapshotDir: string | undefined;

  close(): void {
    this.db.close();
    if (this.snapshotDir) fs.rmSync(this.snapshotDir, { recursive: true, force: true });
  }

  private stamp(): string {
    return this.now().toISOString();
  }

  private stmt(sql: string): Database.Statement {
    let s = this.stmts.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  /** One durable SQLite transaction that extends the chain from its stored head. */
  /** Wall time spent in this handle's writing transactions (hashing, SQL, the WAL fsync), in ms. */
  commitMs = 0;

  private commit<T>(label: string, fn: (chain: ChainWriter) => T): T {
    let out: T;
    const t0 = performance.now();
    try {
      out = this.db.transaction(() => {
        const chain = this.chainHead();
        const start = chain.seq;
        const r = fn(chain);
        if (chain.seq !== start) this.stmt('UPDATE chain_head SET seq = ?, hash = ? WHERE one = 1').run(chain.seq, chain.hash);
        return r;
      })();
    } catch (e: unknown) {
      // The SQLite transaction rolled back: cached next seqs may have run ahead of the table.
      this.nextSeq.clear();
      throw e;
    } finally {
      this.commitMs += performance.now() - t0;
    }
    this.onCommit(label);
    return out;
  }

  private chainHead(): ChainWriter {
    const h = this.stmt('SELECT seq, hash FROM chain_head WHERE one = 1').get() as { seq: number; hash: string } | undefined;
    if (h !== undefined) return new ChainWriter(h.seq, h.hash);
    // The head row was deleted by hand (verify reports it). Go on from the last record there is,
    // rather than stall an update; the gap stays visible to verify.
    let seq = 0;
    let hash = GENESIS_HASH;
    for (const t of CHAIN_TABLES) {
      const r = this.db.prepare(`SELECT chain_seq, hash FROM ${t} WHERE chain_seq IS NOT NULL ORDER BY chain_seq DESC LIMIT 1`).get() as
        { chain_seq: number; hash: string } | undefined;
      if (r && r.chain_seq > seq) { seq = r.chain_seq; hash = r.hash; }
    }
    this.db.prepare('INSERT INTO chain_head (one, seq, hash) VALUES (1, ?, ?)').run(seq, hash);
    return new ChainWriter(seq, hash);
  }

  /**
   * Inserts a chained row: its recorded facts (in CHAINED_COLUMNS order, so what is hashed is what
   * is stored), the initial state when the table has one, chain_seq and hash.
   */
  private insertChained(chain: ChainWriter, table: ChainTable, facts: SqlValue[], initialState?: 'staging' | 'pending'): void {
    const key = `${table}/${initialState ?? ''}`;
    let ins = this.inserts.get(key);
    if (ins === undefined) {
      const cols = [...CHAINED_COLUMNS[table], ...(initialState ? ['state'] : []), 'chain_seq', 'hash'];
      ins = this.db.prepare(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`);
      this.inserts.set(key, ins);
    }
    const [seq, hash] = chain.next(table, facts);
    if (initialState) facts.push(initialState);
    facts.push(seq, hash);
    ins.run(facts);
  }

  private appendEvent(
    chain: ChainWriter,
    txnId: number,
    kind: EventKind,
    e: { seqs?: number[]; state?: string | null; error?: string | null; errorCode?: string | null; recoveredBy?: string | null; at: string | null },
  ): void {
    // facts: txn_id, kind, seqs, state, error, error_code, recovered_by, at
    const facts: SqlValue[] = [
      txnId, kind, e.seqs ? JSON.stringify(e.seqs) : null, sqlValue(e.state), sqlValue(e.error), sqlValue(e.errorCode),
      sqlValue(e.recoveredBy), sqlValue(e.at),
    ];
    const [seq, hash] = chain.next('event', facts);
    this.stmt(
      `INSERT INTO event (chain_seq, ${CHAINED_COLUMNS.event.join(', ')}, hash) VALUES (?, ${CHAINED_COLUMNS.event.map(() => '?').join(', ')}, ?)`,
    ).run(seq, ...facts, hash);
  }

  // --- transactions --------------------------------------------------------------------------

  beginTxn(b: TxnBegin, planned: Iterable<PlannedFile>): number {
    return this.commit('begin', (chain) => {
      const id = (this.stmt('SELECT COALESCE(MAX(id), 0) + 1 AS id FROM txn').get() as { id: number }).id;
      // facts: id, kind, app, from_version, to_version, target, staging_dir, backup_dir, keep_backup,
      //        manifest_sha256, manifest_source, pid, host, user, tool_version, started_at
      this.insertChained(chain, 'txn', [
        id, sqlValue(b.kind), sqlValue(b.app), sqlValue(b.fromVersion), sqlValue(b.toVersion), sqlValue(b.target),
        sqlValue(b.stagingDir), sqlValue(b.backupDir), b.keepBackup ? 1 : 0, sqlValue(b.manifestSha256),
        sqlValue(b.manifestSource), b.pid, sqlValue(b.host), sqlValue(b.user), sqlValue(b.toolVersion), this.stamp(),
      ], 'staging');
      for (const p of planned) {
        // facts: txn_id, path, type, sha256, size, mode, link_target, action, managed
        this.insertChained(chain, 'planned_file', [
          id, sqlValue(p.path), sqlValue(p.type), sqlValue(p.sha256), sqlValue(p.size), sqlValue(p.mode),
          sqlValue(p.linkTarget), sqlValue(p.action), p.managed ? 1 : 0,
        ]);
      }
      this.nextSeq.set(id, 1);
      return id;
    });
  }

  setState(id: number, state: TxnState, extra: { error?: string; errorCode?: string; recoveredBy?: string } = {}): void {
    const finished = state === 'done' || state === 'rolled_back';
    this.commit(`state ${state}`, (chain) => {
      const at = this.stamp();
      const error = sqlValue(extra.error);
      const errorCode = sqlValue(extra.errorCode);
      const recoveredBy = sqlValue(extra.recoveredBy);
      this.stmt(
        `UPDATE txn SET state = ?,
           finished_at = CASE WHEN ? THEN ? ELSE finished_at END,
           committed_at = CASE WHEN ? = 'committed' THEN COALESCE(committed_at, ?) ELSE committed_at END,
           error = COALESCE(error, ?), error_code = COALESCE(error_code, ?),
           recovered_by = COALESCE(?, recovered_by)
         WHERE id = ?`,
      ).run(state, finished ? 1 : 0, at, state, at, error, errorCode, recoveredBy, id);
      this.appendEvent(chain, id, 'state', { state, error, errorCode, recoveredBy, at });
    });
  }

  /** Records the first error without changing state (kept even if rollback fails later). */
  recordError(id: number, error: string, errorCode: string): void {
    this.commit('error', (chain) => {
      const e = sqlValue(error);
      const c = sqlValue(errorCode);
      this.stmt('UPDATE txn SET error = COALESCE(error, ?), error_code = COALESCE(error_code, ?) WHERE id = ?').run(e, c, id);
      this.appendEvent(chain, id, 'error', { error: e, errorCode: c, at: this.stamp() });
    });
  }

  /**
   * Commit point: the installed set becomes the planned one and state becomes 'committed', in one
   * SQLite transaction. Unchanged files keep the version that last wrote them.
   */
  commitTxn(id: number): void {
    this.commit('committed', (chain) => {
      const txn = this.getTxn(id);
      if (!txn) throw new TxnError('E_INTERNAL', `transaction ${id} vanished from the journal`);
      // The installed set becomes the plan's managed paths (installed-set.ts, which verify replays),
      // computed in SQL: an unchanged path keeps the version and transaction that last wrote it,
      // and only rows that change are written, so an update of a few files in a big tree stays small.
      this.stmt(
        `DELETE FROM installed WHERE path NOT IN (SELECT path FROM planned_file WHERE txn_id = ? AND managed = 1)`,
      ).run(id);
      const kept = `p.action = 'unchanged' AND i.path IS NOT NULL`;
      this.stmt(
        `INSERT OR REPLACE INTO installed (path, type, sha256, size, mode, link_target, version, txn_id)
         SELECT p.path, p.type, p.sha256, p.size, p.mode, p.link_target,
                CASE WHEN ${kept} THEN i.version ELSE ? END, CASE WHEN ${kept} THEN i.txn_id ELSE ? END
         FROM planned_file AS p LEFT JOIN installed AS i ON i.path = p.path
         WHERE p.txn_id = ? AND p.managed = 1
           AND NOT (${kept} AND i.type IS p.type AND i.sha256 IS p.sha256 AND i.size IS p.size
                    AND i.mode IS p.mode AND i.link_target IS p.link_target)`,
      ).run(txn.toVersion, id, id);
      const at = this.stamp();
      this.stmt(`UPDATE txn SET state = 'committed', committed_at = COALESCE(committed_at, ?) WHERE id = ?`).run(at, id);
      this.appendEvent(chain, id, 'state', { state: 'committed', at });
    });
  }

  getTxn(id: number): TxnRecord | undefined {
    const r = this.stmt('SELECT * FROM txn WHERE id = ?').get(id) as Row | undefined;
    return r ? toTxn(r) : undefined;
  }

  /** Transactions not in a final state, oldest first. */
  interruptedTxns(): TxnRecord[] {
    return (this.stmt(`SELECT * FROM txn WHERE state NOT IN ('done', 'rolled_back') ORDER BY id`).all() as Row[]).map(toTxn);
  }

  listTxns(opts: { limit?: number; since?: string; until?: string; state?: string } = {}): TxnRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (opts.since) { where.push('started_at >= ?'); args.push(opts.since); }
    if (opts.until) { where.push('started_at <= ?'); args.push(opts.until); }
    if (opts.state) { where.push('state = ?'); args.push(opts.state); }
    const sql = `SELECT * FROM txn ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC ${opts.limit ? 'LIMIT ' + Math.floor(opts.limit) : ''}`;
    return (this.db.prepare(sql).all(...args) as Row[]).map(toTxn);
  }

  lastTxn(): TxnRecord | undefined {
    const r = this.stmt('SELECT * FROM txn ORDER BY id DESC LIMIT 1').get() as Row | undefined;
    return r ? toTxn(r) : undefined;
  }

  // --- ops -------------------------------------------------------------------------------------

  private seqFor(txnId: number): number {
    let s = this.nextSeq.get(txnId);
    if (s === undefined) {
      const r = this.stmt('SELECT COALESCE(MAX(seq), 0) + 1 AS s FROM op WHERE txn_id = ?').get(txnId) as Row;
      s = r.s as number;
    }
    return s;
  }

  /** Journals a batch of intents in one durable commit (group commit); returns their seqs. */
  addOps(txnId: number, intents: OpIntent[], label = 'intents'): number[] {
    if (intents.length === 0) return [];
    return this.commit(label, (chain) => this.insertOps(chain, txnId, intents));
  }

  private insertOps(chain: ChainWriter, txnId: number, intents: OpIntent[]): number[] {
    let seq = this.seqFor(txnId);
    const at = this.stamp();
    const seqs: number[] = [];
    for (const o of intents) {
      // facts: txn_id, seq, phase, kind, action, path, src, dst, ftype, size, sha256, mode, old_mode,
      //        link_target, undo, ref_seq, at
      this.insertChained(chain, 'op', [
        txnId, seq, sqlValue(o.phase), sqlValue(o.kind), sqlValue(o.action), sqlValue(o.path), sqlValue(o.src),
        sqlValue(o.dst), sqlValue(o.ftype), sqlValue(o.size), sqlValue(o.sha256), sqlValue(o.mode), sqlValue(o.oldMode),
        sqlValue(o.linkTarget), sqlValue(o.undo), sqlValue(o.refSeq), at,
      ], 'pending');
      seqs.push(seq++);
    }
    this.nextSeq.set(txnId, seq);
    return seqs;
  }

  /** Marks ops in one durable commit. */
  markOps(txnId: number, seqs: number[], state: OpState, error?: string, label = `mark ${state}`): void {
    if (seqs.length === 0) return;
    this.commit(label, (chain) => this.markRows(chain, txnId, seqs, state, error));
  }

  /**
   * One undo step's intent, in one commit with the 'undone' marks of the ops already settled
   * (decided to need no undo): nothing on disk changes before both are durable, so a later
   * undo pass never re-decides an op after the disk moved on under it.
   */
  beginUndo(txnId: number, intent: OpIntent, settled: number[]): number {
    return this.commit('undo intent', (chain) => {
      if (settled.length > 0) this.markRows(chain, txnId, settled, 'undone');
      return this.insertOps(chain, txnId, [intent])[0]!;
    });
  }

  /** Marks an undo step done and the op it reversed 'undone', in one commit. */
  finishUndo(txnId: number, undoSeq: number, originalSeq: number): void {
    this.commit('undo done', (chain) => {
      this.markRows(chain, txnId, [undoSeq], 'done');
      this.markRows(chain, txnId, [originalSeq], 'undone');
    });
  }

  /** Sets the state (and done_at, and the error if given) of ops, and chains one event for them. */
  private markRows(chain: ChainWriter, txnId: number, seqs: number[], state: OpState, error?: string): void {
    const at = this.stamp();
    const err = sqlValue(error);
    // A batch is mostly runs of consecutive seqs: one UPDATE per run, not one per op.
    const upd = this.stmt('UPDATE op SET state = ?, done_at = ?, error = COALESCE(?, error) WHERE txn_id = ? AND seq BETWEEN ? AND ?');
    for (const [lo, hi] of seqRuns(seqs)) upd.run(state, at, err, txnId, lo, hi);
    this.appendEvent(chain, txnId, 'ops', { seqs, state, error: err, at });
  }

  ops(txnId: number): OpRecord[] {
    return (this.stmt('SELECT * FROM op WHERE txn_id = ? ORDER BY seq').all(txnId) as Row[]).map(toOp);
  }

  plannedFiles(txnId: number): PlannedFile[] {
    return (this.stmt('SELECT * FROM planned_file WHERE txn_id = ? ORDER BY path').all(txnId) as Row[]).map((r) => ({
      ...entryFacts(r),
      action: r.action as string,
      managed: r.managed === 1,
    }));
  }

  /** The stat cache (schema 3): path → the stat and content hash it had after the last commit. */
  statCache(): Map<string, StatCacheRow> {
    const out = new Map<string, StatCacheRow>();
    for (const r of this.db.prepare('SELECT * FROM stat_cache').all() as Row[]) {
      out.set(r.path as string, { size: r.size as number, mtimeMs: r.mtime_ms as number, ctimeMs: r.ctime_ms as number, ino: r.ino as number, sha256: r.sha256 as string });
    }
    return out;
  }

  /**
   * Makes the stat cache `next`, given that it holds `prev` (what statCache() returned): writes only
   * the rows that differ, in one commit (a cache, so no crash point of its own matters).
   */
  updateStatCache(prev: ReadonlyMap<string, StatCacheRow>, next: ReadonlyMap<string, StatCacheRow>): void {
    this.commit('stat cache', () => {
      const del = this.stmt('DELETE FROM stat_cache WHERE path = ?');
      for (const p of prev.keys()) if (!next.has(p)) del.run(p);
      const put = this.stmt('INSERT OR REPLACE INTO stat_cache (path, size, mtime_ms, ctime_ms, ino, sha256) VALUES (?, ?, ?, ?, ?, ?)');
      for (const [p, r] of next) {
        const o = prev.get(p);
        if (o && o.size === r.size && o.mtimeMs === r.mtimeMs && o.ctimeMs === r.ctimeMs && o.ino === r.ino && o.sha256 === r.sha256) continue;
        put.run(p, r.size, r.mtimeMs, r.ctimeMs, r.ino, r.sha256);
      }
    });
  }

  /** Replaces the stat cache with `rows`. */
  saveStatCache(rows: ReadonlyMap<string, StatCacheRow>): void {
    this.updateStatCache(this.statCache(), rows);
  }

  /**
   * Paths the last committed transaction left to the user (preserved: installed only if absent,
   * or left alone): they stay the user's in later transactions.
   */
  userOwnedPaths(): Set<string> {
    const rows = this.db
      .prepare(
        `SELECT path FROM planned_file WHERE managed = 0 AND txn_id =
           (SELECT id FROM txn WHERE state IN ('committed', 'done') ORDER BY id DESC LIMIT 1)`,
      )
      .all() as Row[];
    return new Set(rows.map((r) => r.path as string));
  }

  installedFiles(): InstalledFile[] {
    return (this.stmt('SELECT * FROM installed ORDER BY path').all() as Row[]).map((r) => ({
      ...entryFacts(r),
      version: r.version as string,
    }));
  }

  /** The installed version: to_version of the last transaction that reached 'committed' or 'done'. */
  installedVersion(): { app: string; version: string; txnId: number } | undefined {
    const r = this.stmt(`SELECT id, app, to_version FROM txn WHERE state IN ('committed', 'done') ORDER BY id DESC LIMIT 1`)
      .get() as Row | undefined;
    return r ? { app: r.app as string, version: r.to_version as string, txnId: r.id as number } : undefined;
  }

  /** The manifest of the installed version: its sha256 and the tool version that applied it. */
  installedManifest(): { sha256: string; toolVersion: string } | undefined {
    const r = this.stmt(`SELECT manifest_sha256, tool_version FROM txn WHERE state IN ('committed', 'done') ORDER BY id DESC LIMIT 1`)
      .get() as Row | undefined;
    return r ? { sha256: r.manifest_sha256 as string, toolVersion: r.tool_version as string } : undefined;
  }

  /**
   * Recomputes the hash chain and everything derived from it (verify-chain.ts), in one read
   * transaction; never writes.
   */
  verifyChain(opts: ChainCheckOptions = {}): ChainReport {
    return verifyChain(this.db, opts);
  }

  /** Plain read-only query for the audit package (its SQL lives here too). */
  query<T = Row>(sql: string, ...args: unknown[]): T[] {
    return this.db.prepare(sql).all(...args) as T[];
  }
}

/** Sorted runs of consecutive numbers: [5, 1, 2, 3, 7, 8] → [[1, 3], [5, 5], [7, 8]]. */
export function seqRuns(seqs: readonly number[]): Array<[number, number]> {
  const sorted = [...seqs].sort((a, b) => a - b);
  const runs: Array<[number, number]> = [];
  for (const s of sorted) {
    const last = runs[runs.length - 1];
    if (last !== undefined && (s === last[1] || s === last[1] + 1)) last[1] = s;
    else runs.push([s, s]);
  }
  return runs;
}
