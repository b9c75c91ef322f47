/**
 * The journal's schema. `journal-schema.sql` at the repo root is a copy of SCHEMA_SQL that a test
 * keeps identical; the views are the stable audit interface (DESIGN §8). A fresh journal gets
 * SCHEMA_SQL whole; an older one is brought here by the steps in migrate.ts, and a test checks
 * that both roads end at the same tables, columns, views and triggers.
 *
 * The parts are exported for the migration (which must create the very same views and triggers).
 */

export const SCHEMA_VERSION = 3;

/** The chain's starting point: the "previous hash" of record 1. */
export const GENESIS_HASH = '0'.repeat(64);

/** Tables of the hash chain (chain.ts), in the order a transaction first writes them. */
export const EVENT_AND_HEAD_SQL = `-- One row per change of a txn's or ops' state, appended (never updated) in the same SQLite
-- transaction as the change it records. The state columns of txn and op are the latest value;
-- events are the history that the hash chain covers (docs/AUDITING.md, "Tamper evidence").
--   kind 'state'    txn state change (state; error, error_code, recovered_by if given)
--   kind 'error'    txn's first error recorded without a state change
--   kind 'ops'      ops of txn_id whose seq is in seqs (a JSON array) marked state (and error)
--   kind 'snapshot' written by the migration from schema 1: the state columns as found
CREATE TABLE IF NOT EXISTS event (
  chain_seq    INTEGER PRIMARY KEY,
  txn_id       INTEGER NOT NULL REFERENCES txn(id),
  kind         TEXT NOT NULL CHECK (kind IN ('state', 'error', 'ops', 'snapshot')),
  seqs         TEXT,             -- JSON array of op seqs; NULL for a txn event
  state        TEXT,
  error        TEXT,
  error_code   TEXT,
  recovered_by TEXT,
  at           TEXT,             -- when; NULL only in a snapshot of a row that had no time
  hash         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS event_txn ON event(txn_id);

-- The last record of the hash chain (one row): lets verify see records cut off the end.
CREATE TABLE IF NOT EXISTS chain_head (
  one  INTEGER PRIMARY KEY CHECK (one = 1),
  seq  INTEGER NOT NULL,
  hash TEXT NOT NULL
);
INSERT OR IGNORE INTO chain_head (one, seq, hash) VALUES (1, 0, '${GENESIS_HASH}');
`;

/**
 * History is append-only, and SQLite enforces it for every client: recorded facts of txn and op
 * rows never change (only their state columns do), planned_file and event rows never change,
 * and nothing is deleted. (Someone with write access can drop these triggers; the hash chain is
 * what detects that — and verify reports a missing trigger too.)
 */
export const TRIGGERS_SQL = `CREATE TRIGGER IF NOT EXISTS txn_append_only
  BEFORE UPDATE OF id, kind, app, from_version, to_version, target, staging_dir, backup_dir, keep_backup,
    manifest_sha256, manifest_source, pid, host, user, tool_version, started_at, chain_seq, hash ON txn
  BEGIN SELECT RAISE(ABORT, 'journal history is append-only: a txn row''s recorded facts never change'); END;
CREATE TRIGGER IF NOT EXISTS txn_no_delete BEFORE DELETE ON txn
  BEGIN SELECT RAISE(ABORT, 'journal history is append-only: txn rows are never deleted'); END;
CREATE TRIGGER IF NOT EXISTS op_append_only
  BEFORE UPDATE OF txn_id, seq, phase, kind, action, path, src, dst, ftype, size, sha256, mode, old_mode,
    link_target, undo, ref_seq, at, chain_seq, hash ON op
  BEGIN SELECT RAISE(ABORT, 'journal history is append-only: an op row''s recorded facts never change'); END;
CREATE TRIGGER IF NOT EXISTS op_no_delete BEFORE DELETE ON op
  BEGIN SELECT RAISE(ABORT, 'journal history is append-only: op rows are never deleted'); END;
CREATE TRIGGER IF NOT EXISTS planned_file_append_only BEFORE UPDATE ON planned_file
  BEGIN SELECT RAISE(ABORT, 'journal history is append-only: planned_file rows never change'); END;
CREATE TRIGGER IF NOT EXISTS planned_file_no_delete BEFORE DELETE ON planned_file
  BEGIN SELECT RAISE(ABORT, 'journal history is append-only: planned_file rows are never deleted'); END;
CREATE TRIGGER IF NOT EXISTS event_append_only BEFORE UPDATE ON event
  BEGIN SELECT RAISE(ABORT, 'journal history is append-only: event rows never change'); END;
CREATE TRIGGER IF NOT EXISTS event_no_delete BEFORE DELETE ON event
  BEGIN SELECT RAISE(ABORT, 'journal history is append-only: event rows are never deleted'); END;
CREATE TRIGGER IF NOT EXISTS chain_head_no_delete BEFORE DELETE ON chain_head
  BEGIN SELECT RAISE(ABORT, 'the chain head is never deleted'); END;
`;

/** Names of the triggers above (verify reports any that is missing). */
export const TRIGGER_NAMES = [
  'txn_append_only', 'txn_no_delete', 'op_append_only', 'op_no_delete', 'planned_file_append_only',
  'planned_file_no_delete', 'event_append_only', 'event_no_delete', 'chain_head_no_delete',
] as const;

/**
 * The audit views. The first columns of txn_history, op_log and installed_files are DESIGN §8's,
 * unchanged; later columns are appended only at the end (a view's columns never move).
 */
export const VIEWS_SQL = `-- Stable audit views -------------------------------------------------------------------------
CREATE VIEW IF NOT EXISTS txn_history AS
  SELECT id, kind, app, from_version, to_version, state, started_at, finished_at, error
  FROM txn;

CREATE VIEW IF NOT EXISTS op_log AS
  SELECT txn_id, seq, kind, path, state, at, phase, action, done_at, error
  FROM op;

-- mode is octal text; NULL for a symlink (a link has no mode of its own).
CREATE VIEW IF NOT EXISTS installed_files AS
  SELECT path, sha256, size,
         CASE WHEN type = 'symlink' OR mode IS NULL THEN NULL ELSE printf('%o', mode) END AS mode,
         version, type, link_target
  FROM installed
  WHERE type <> 'dir';

-- Per transaction, counted the way apply --json counts (manifest paths of every type):
-- installed (install + preserved-install), replaced, removed (in the installed set before, i.e. the
-- managed plan of the previous committed transaction, and not in this plan), unchanged, preserved,
-- chmod (mode-only change); bytes_staged: release bytes written into staging (not the version file).
-- The counts are the transaction's plan: state says whether it took effect.
CREATE VIEW IF NOT EXISTS txn_summary AS
  SELECT t.id, t.kind, t.app, t.from_version, t.to_version, t.state,
    (SELECT count(*) FROM planned_file AS p
      WHERE p.txn_id = t.id AND p.action IN ('install', 'preserved-install')) AS installed,
    (SELECT count(*) FROM planned_file AS p WHERE p.txn_id = t.id AND p.action = 'replace') AS replaced,
    (SELECT count(*) FROM planned_file AS b
      WHERE b.txn_id = (SELECT max(c.id) FROM txn AS c WHERE c.id < t.id AND c.state IN ('committed', 'done'))
        AND b.managed = 1
        AND NOT EXISTS (SELECT 1 FROM planned_file AS p WHERE p.txn_id = t.id AND p.path = b.path)) AS removed,
    (SELECT count(*) FROM planned_file AS p WHERE p.txn_id = t.id AND p.action = 'unchanged') AS unchanged,
    (SELECT count(*) FROM planned_file AS p WHERE p.txn_id = t.id AND p.action = 'preserved') AS preserved,
    (SELECT count(*) FROM planned_file AS p WHERE p.txn_id = t.id AND p.action = 'chmod') AS chmod,
    (SELECT COALESCE(sum(o.size), 0) FROM op AS o
      WHERE o.txn_id = t.id AND o.phase = 'stage' AND o.kind = 'write' AND o.state IN ('done', 'undone')
        AND o.path <> '.codemate-version') AS bytes_staged,
    t.started_at, t.finished_at,
    CAST(round((julianday(t.finished_at) - julianday(t.started_at)) * 86400000) AS INTEGER) AS duration_ms,
    t.error, t.error_code
  FROM txn AS t;

-- What each path held after each transaction that committed: one row per change (install,
-- replace, chmod, preserved-install, remove). at: when the transaction committed (finished_at for
-- transactions migrated from schema 1, which did not record it).
CREATE VIEW IF NOT EXISTS file_history AS
  SELECT p.path, t.id AS txn_id, t.to_version AS version, p.action, p.sha256,
         COALESCE(t.committed_at, t.finished_at) AS at, p.type, p.size,
         CASE WHEN p.type = 'symlink' OR p.mode IS NULL THEN NULL ELSE printf('%o', p.mode) END AS mode,
         p.link_target
  FROM txn AS t JOIN planned_file AS p ON p.txn_id = t.id
  WHERE t.state IN ('committed', 'done')
    AND p.action IN ('install', 'replace', 'chmod', 'preserved-install')
  UNION ALL
  SELECT b.path, t.id, t.to_version, 'remove', NULL, COALESCE(t.committed_at, t.finished_at), b.type,
         NULL, NULL, NULL
  FROM txn AS t
  JOIN planned_file AS b
    ON b.txn_id = (SELECT max(c.id) FROM txn AS c WHERE c.id < t.id AND c.state IN ('committed', 'done'))
  WHERE t.state IN ('committed', 'done') AND b.managed = 1
    AND NOT EXISTS (SELECT 1 FROM planned_file AS p WHERE p.txn_id = t.id AND p.path = b.path);
`;

/**
 * Schema 3: the stat cache. Not history and not chained: a cache of "a file with this stat had
 * this content", so an update does not rehash unchanged files. Content is compared whenever the
 * stat differs (ctime changes on every write, chmod or rename, and cannot be set by users).
 */
export const STAT_CACHE_SQL = `-- A cache, not history (schema 3): the stat each installed file had after the last commit.
CREATE TABLE IF NOT EXISTS stat_cache (
  path        TEXT PRIMARY KEY,
  size        INTEGER NOT NULL,
  mtime_ms    REAL NOT NULL,
  ctime_ms    REAL NOT NULL,
  ino         INTEGER NOT NULL,
  sha256      TEXT NOT NULL
);
`;

export const SCHEMA_SQL = `-- codemate-txn journal schema (PRAGMA user_version = ${SCHEMA_VERSION}).
-- Tables are the engine's; the views at the end are the stable audit interface (DESIGN §8).
-- Times are ISO-8601 UTC text. History is append-only: rows of finished transactions never change.
-- Tamper evidence: txn, planned_file, op and event rows form one hash chain (chain_seq, hash):
-- hash = sha256(previous record's hash, "\\n", canonical JSON of the record's recorded facts).
-- Columns added by a schema version are appended at the end of their table.

-- One row per transaction (apply). State machine:
--   staging -> applying -> committed -> done, and on failure rolling_back -> rolled_back.
CREATE TABLE IF NOT EXISTS txn (
  id              INTEGER PRIMARY KEY,
  kind            TEXT NOT NULL CHECK (kind IN ('install', 'update', 'repair', 'downgrade')),
  app             TEXT NOT NULL,
  from_version    TEXT,
  to_version      TEXT NOT NULL,
  state           TEXT NOT NULL CHECK (state IN
                    ('staging', 'applying', 'committed', 'done', 'rolling_back', 'rolled_back')),
  target          TEXT NOT NULL,   -- absolute path of the installation
  staging_dir     TEXT NOT NULL,   -- the exact staging directory this transaction used
  backup_dir      TEXT,            -- the exact backup directory (files live under original/)
  keep_backup     INTEGER NOT NULL DEFAULT 0,
  manifest_sha256 TEXT NOT NULL,
  manifest_source TEXT NOT NULL,   -- where the manifest was read from (path or URL)
  pid             INTEGER NOT NULL,
  host            TEXT NOT NULL,
  user            TEXT NOT NULL,
  tool_version    TEXT NOT NULL,
  started_at      TEXT NOT NULL,
  finished_at     TEXT,
  error           TEXT,            -- first error, human text
  error_code      TEXT,            -- its TxnError code
  recovered_by    TEXT,            -- 'recover' or 'apply' when a later process finished it
  committed_at    TEXT,            -- when it passed the commit point (v2)
  chain_seq       INTEGER,         -- position in the hash chain (v2)
  hash            TEXT             -- chain hash over the columns id..started_at (v2)
);

-- Every filesystem mutation, journaled as an intent (state 'pending') before it runs and marked
-- 'done' after. phase: stage | apply | cleanup | undo | redo. undo says how to reverse it.
CREATE TABLE IF NOT EXISTS op (
  txn_id      INTEGER NOT NULL REFERENCES txn(id),
  seq         INTEGER NOT NULL,
  phase       TEXT NOT NULL CHECK (phase IN ('stage', 'apply', 'cleanup', 'undo', 'redo')),
  kind        TEXT NOT NULL,       -- mkdir | write | rename | chmod | rmdir | rmtree | symlink
  action      TEXT,                -- what the op is for: install | replace | remove | backup | ...
  path        TEXT NOT NULL,       -- manifest-relative path ('' for the target itself)
  src         TEXT,                -- absolute path the op reads or moves from
  dst         TEXT,                -- absolute path the op creates or moves to
  ftype       TEXT,                -- file | symlink | dir
  size        INTEGER,
  sha256      TEXT,
  mode        INTEGER,
  old_mode    INTEGER,
  link_target TEXT,
  undo        TEXT NOT NULL CHECK (undo IN ('rename-back', 'rmdir', 'rmtree', 'chmod-back', 'none')),
  ref_seq     INTEGER,             -- undo/redo rows: the op they act on
  state       TEXT NOT NULL CHECK (state IN ('pending', 'done', 'undone', 'skipped', 'failed')),
  at          TEXT NOT NULL,
  done_at     TEXT,
  error       TEXT,
  chain_seq   INTEGER,             -- position in the hash chain (v2)
  hash        TEXT,                -- chain hash over the columns txn_id..ref_seq and at (v2)
  PRIMARY KEY (txn_id, seq)
);

-- The installed set each transaction will leave (recorded at begin, so commit and recover need no
-- manifest). action: install | replace | unchanged | chmod | preserved | preserved-install.
CREATE TABLE IF NOT EXISTS planned_file (
  txn_id      INTEGER NOT NULL REFERENCES txn(id),
  path        TEXT NOT NULL,
  type        TEXT NOT NULL CHECK (type IN ('file', 'symlink', 'dir')),
  sha256      TEXT,
  size        INTEGER,
  mode        INTEGER,
  link_target TEXT,
  action      TEXT NOT NULL,
  managed     INTEGER NOT NULL,    -- 0 for preserved files: installed once, then the user's
  chain_seq   INTEGER,             -- position in the hash chain (v2)
  hash        TEXT,                -- chain hash over the columns txn_id..managed (v2)
  PRIMARY KEY (txn_id, path)
);

-- The current installed set (managed paths only), replaced at each commit. Not chained: it is
-- derived from the chained planned_file rows of the committed transactions, and verify --journal
-- recomputes it from them.
CREATE TABLE IF NOT EXISTS installed (
  path        TEXT PRIMARY KEY,
  type        TEXT NOT NULL CHECK (type IN ('file', 'symlink', 'dir')),
  sha256      TEXT,
  size        INTEGER,
  mode        INTEGER,
  link_target TEXT,
  version     TEXT NOT NULL,       -- version of the transaction that last wrote it
  txn_id      INTEGER NOT NULL REFERENCES txn(id)
);

CREATE INDEX IF NOT EXISTS txn_state ON txn(state);

${STAT_CACHE_SQL}
${EVENT_AND_HEAD_SQL}
${TRIGGERS_SQL}
${VIEWS_SQL}`;
