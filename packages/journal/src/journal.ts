/**
 * The open journal: typed appends and queries over SQLite (better-sqlite3). All SQL and PRAGMAs
 * of the project live in this package. Transactions are short and synchronous: no await inside.
 */
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import { TxnError, type InstalledFile, type TxnKind, type TxnState, type EntryType } from '@codemate-txn/core';
import { SCHEMA_SQL, SCHEMA_VERSION } from './schema.js';
import { migrate } from './migrate.js';

export type OpPhase = 'stage' | 'apply' | 'cleanup' | 'undo' | 'redo';
export type OpKind = 'mkdir' | 'write' | 'rename' | 'chmod' | 'rmdir' | 'rmtree' | 'symlink';
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
}

export interface PlannedFile {
  path: string;
  type: EntryType;
  sha256: string | null;
  size: number | null;
  mode: number | null;
  linkTarget: string | null;
  action: string;
  managed: boolean;
}

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
  };
}

export class Journal {
  readonly path: string;
  readonly readonly: boolean;
  private readonly db: Database.Database;
  private readonly onCommit: (label: string) => void;
  private readonly now: () => Date;
  private nextSeq = new Map<number, number>();

  private constructor(path: string, db: Database.Database, opts: JournalOptions) {
    this.path = path;
    this.db = db;
    this.readonly = opts.readonly === true;
    this.onCommit = opts.onCommit ?? (() => {});
    this.now = opts.now ?? (() => new Date());
  }

  /**
   * Opens (creating with mode 0600 when writable) and migrates the journal. WAL, synchronous=FULL:
   * a commit is durable when this returns, and readers never block the writer.
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
      const db = new Database(path, { readonly: true, fileMustExist: true });
      const j = new Journal(path, db, opts);
      j.checkVersion();
      return j;
    }
    // Create the file ourselves so it is 0600 from its first byte; SQLite gives -wal/-shm the same mode.
    const fd = fs.openSync(path, 'a', 0o600);
    fs.closeSync(fd);
    fs.chmodSync(path, 0o600);
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    const j = new Journal(path, db, opts);
    j.checkVersion();
    migrate(db, SCHEMA_SQL, SCHEMA_VERSION);
    return j;
  }

  private checkVersion(): void {
    const v = this.db.pragma('user_version', { simple: true }) as number;
    if (v > SCHEMA_VERSION) {
      throw new TxnError(
        'E_JOURNAL_SCHEMA',
        `journal ${this.path} has schema version ${v}; this codemate-txn understands up to ${SCHEMA_VERSION}`,
        { hint: 'upgrade codemate-txn to read this journal' },
      );
    }
  }

  close(): void {
    this.db.close();
  }

  private stamp(): string {
    return this.now().toISOString();
  }

  private commit<T>(label: string, fn: () => T): T {
    const out = this.db.transaction(fn)();
    this.onCommit(label);
    return out;
  }

  // --- transactions --------------------------------------------------------------------------

  beginTxn(b: TxnBegin, planned: PlannedFile[]): number {
    return this.commit('begin', () => {
      const info = this.db
        .prepare(
          `INSERT INTO txn (kind, app, from_version, to_version, state, target, staging_dir, backup_dir,
             keep_backup, manifest_sha256, manifest_source, pid, host, user, tool_version, started_at)
           VALUES (?, ?, ?, ?, 'staging', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          b.kind, b.app, b.fromVersion, b.toVersion, b.target, b.stagingDir, b.backupDir,
          b.keepBackup ? 1 : 0, b.manifestSha256, b.manifestSource, b.pid, b.host, b.user,
          b.toolVersion, this.stamp(),
        );
      const id = Number(info.lastInsertRowid);
      const ins = this.db.prepare(
        `INSERT INTO planned_file (txn_id, path, type, sha256, size, mode, link_target, action, managed)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const p of planned) {
        ins.run(id, p.path, p.type, p.sha256, p.size, p.mode, p.linkTarget, p.action, p.managed ? 1 : 0);
      }
      this.nextSeq.set(id, 1);
      return id;
    });
  }

  setState(id: number, state: TxnState, extra: { error?: string; errorCode?: string; recoveredBy?: string } = {}): void {
    const finished = state === 'done' || state === 'rolled_back';
    this.commit(`state ${state}`, () => {
      this.db
        .prepare(
          `UPDATE txn SET state = ?,
             finished_at = CASE WHEN ? THEN ? ELSE finished_at END,
             error = COALESCE(error, ?), error_code = COALESCE(error_code, ?),
             recovered_by = COALESCE(?, recovered_by)
           WHERE id = ?`,
        )
        .run(state, finished ? 1 : 0, this.stamp(), extra.error ?? null, extra.errorCode ?? null, extra.recoveredBy ?? null, id);
    });
  }

  /** Records the first error without changing state (kept even if rollback fails later). */
  recordError(id: number, error: string, errorCode: string): void {
    this.commit('error', () => {
      this.db
        .prepare('UPDATE txn SET error = COALESCE(error, ?), error_code = COALESCE(error_code, ?) WHERE id = ?')
        .run(error, errorCode, id);
    });
  }

  /**
   * Commit point: the installed set becomes the planned one and state becomes 'committed', in one
   * SQLite transaction. Unchanged files keep the version that last wrote them.
   */
  commitTxn(id: number): void {
    this.commit('committed', () => {
      const txn = this.getTxn(id);
      if (!txn) throw new TxnError('E_INTERNAL', `transaction ${id} vanished from the journal`);
      const old = new Map<string, { version: string; txnId: number }>();
      for (const r of this.db.prepare('SELECT path, version, txn_id FROM installed').all() as Row[]) {
        old.set(r.path as string, { version: r.version as string, txnId: r.txn_id as number });
      }
      this.db.prepare('DELETE FROM installed').run();
      const ins = this.db.prepare(
        `INSERT INTO installed (path, type, sha256, size, mode, link_target, version, txn_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const p of this.plannedFiles(id)) {
        if (!p.managed) continue;
        const before = old.get(p.path);
        const keep = p.action === 'unchanged' && before !== undefined;
        ins.run(
          p.path, p.type, p.sha256, p.size, p.mode, p.linkTarget,
          keep ? before.version : txn.toVersion,
          keep ? before.txnId : id,
        );
      }
      this.db.prepare(`UPDATE txn SET state = 'committed' WHERE id = ?`).run(id);
    });
  }

  getTxn(id: number): TxnRecord | undefined {
    const r = this.db.prepare('SELECT * FROM txn WHERE id = ?').get(id) as Row | undefined;
    return r ? toTxn(r) : undefined;
  }

  /** Transactions not in a final state, oldest first. */
  interruptedTxns(): TxnRecord[] {
    return (this.db
      .prepare(`SELECT * FROM txn WHERE state NOT IN ('done', 'rolled_back') ORDER BY id`)
      .all() as Row[]).map(toTxn);
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
    const r = this.db.prepare('SELECT * FROM txn ORDER BY id DESC LIMIT 1').get() as Row | undefined;
    return r ? toTxn(r) : undefined;
  }

  // --- ops -------------------------------------------------------------------------------------

  private seqFor(txnId: number): number {
    let s = this.nextSeq.get(txnId);
    if (s === undefined) {
      const r = this.db.prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS s FROM op WHERE txn_id = ?').get(txnId) as Row;
      s = r.s as number;
    }
    return s;
  }

  /** Journals a batch of intents in one durable commit (group commit); returns their seqs. */
  addOps(txnId: number, intents: OpIntent[], label = 'intents'): number[] {
    if (intents.length === 0) return [];
    return this.commit(label, () => this.insertOps(txnId, intents));
  }

  private insertOps(txnId: number, intents: OpIntent[]): number[] {
    let seq = this.seqFor(txnId);
    const at = this.stamp();
    const ins = this.db.prepare(
      `INSERT INTO op (txn_id, seq, phase, kind, action, path, src, dst, ftype, size, sha256, mode,
         old_mode, link_target, undo, ref_seq, state, at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)`,
    );
    const seqs: number[] = [];
    for (const o of intents) {
      ins.run(
        txnId, seq, o.phase, o.kind, o.action ?? null, o.path, o.src ?? null, o.dst ?? null,
        o.ftype ?? null, o.size ?? null, o.sha256 ?? null, o.mode ?? null, o.oldMode ?? null,
        o.linkTarget ?? null, o.undo, o.refSeq ?? null, at,
      );
      seqs.push(seq++);
    }
    this.nextSeq.set(txnId, seq);
    return seqs;
  }

  /** Marks ops in one durable commit. */
  markOps(txnId: number, seqs: number[], state: OpState, error?: string, label = `mark ${state}`): void {
    if (seqs.length === 0) return;
    this.commit(label, () => {
      const at = this.stamp();
      const upd = this.db.prepare('UPDATE op SET state = ?, done_at = ?, error = COALESCE(?, error) WHERE txn_id = ? AND seq = ?');
      for (const s of seqs) upd.run(state, at, error ?? null, txnId, s);
    });
  }

  /**
   * One undo step's intent, in one commit with the 'undone' marks of the ops already settled
   * (decided to need no undo): nothing on disk changes before both are durable, so a later
   * undo pass never re-decides an op after the disk moved on under it.
   */
  beginUndo(txnId: number, intent: OpIntent, settled: number[]): number {
    return this.commit('undo intent', () => {
      this.markRows(txnId, settled, 'undone');
      return this.insertOps(txnId, [intent])[0]!;
    });
  }

  /** Marks an undo step done and the op it reversed 'undone', in one commit. */
  finishUndo(txnId: number, undoSeq: number, originalSeq: number): void {
    this.commit('undo done', () => {
      this.markRows(txnId, [undoSeq], 'done');
      this.markRows(txnId, [originalSeq], 'undone');
    });
  }

  private markRows(txnId: number, seqs: number[], state: OpState): void {
    const at = this.stamp();
    const upd = this.db.prepare('UPDATE op SET state = ?, done_at = ? WHERE txn_id = ? AND seq = ?');
    for (const s of seqs) upd.run(state, at, txnId, s);
  }

  ops(txnId: number): OpRecord[] {
    return (this.db.prepare('SELECT * FROM op WHERE txn_id = ? ORDER BY seq').all(txnId) as Row[]).map(toOp);
  }

  plannedFiles(txnId: number): PlannedFile[] {
    return (this.db.prepare('SELECT * FROM planned_file WHERE txn_id = ? ORDER BY path').all(txnId) as Row[]).map((r) => ({
      path: r.path as string,
      type: r.type as EntryType,
      sha256: (r.sha256 as string | null) ?? null,
      size: (r.size as number | null) ?? null,
      mode: (r.mode as number | null) ?? null,
      linkTarget: (r.link_target as string | null) ?? null,
      action: r.action as string,
      managed: r.managed === 1,
    }));
  }

  installedFiles(): InstalledFile[] {
    return (this.db.prepare('SELECT * FROM installed ORDER BY path').all() as Row[]).map((r) => ({
      path: r.path as string,
      type: r.type as EntryType,
      sha256: (r.sha256 as string | null) ?? null,
      size: (r.size as number | null) ?? null,
      mode: (r.mode as number | null) ?? null,
      linkTarget: (r.link_target as string | null) ?? null,
      version: r.version as string,
    }));
  }

  /** The installed version: to_version of the last transaction that reached 'committed' or 'done'. */
  installedVersion(): { app: string; version: string; txnId: number } | undefined {
    const r = this.db
      .prepare(`SELECT id, app, to_version FROM txn WHERE state IN ('committed', 'done') ORDER BY id DESC LIMIT 1`)
      .get() as Row | undefined;
    return r ? { app: r.app as string, version: r.to_version as string, txnId: r.id as number } : undefined;
  }

  /** Plain read-only query for the audit package (its SQL lives here too). */
  query<T = Row>(sql: string, ...args: unknown[]): T[] {
    return this.db.prepare(sql).all(...args) as T[];
  }
}
