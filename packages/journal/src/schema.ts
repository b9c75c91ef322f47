/**
 * The journal's schema. `journal-schema.sql` at the repo root is a copy of SCHEMA_SQL that a test
 * keeps identical; the views at the end are the stable audit interface (DESIGN §8).
 */

export const SCHEMA_VERSION = 1;

export const SCHEMA_SQL = `-- codemate-txn journal schema (PRAGMA user_version = 1).
-- Tables are the engine's; the views at the end are the stable audit interface (DESIGN §8).
-- Times are ISO-8601 UTC text. History is append-only: rows of finished transactions never change.

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
  recovered_by    TEXT             -- 'recover' or 'apply' when a later process finished it
);

-- Every filesystem mutation, journaled as an intent (state 'pending') before it runs and marked
-- 'done' after. phase: stage | apply | cleanup | undo | redo. undo says how to reverse it.
CREATE TABLE IF NOT EXISTS op (
  txn_id      INTEGER NOT NULL REFERENCES txn(id),
  seq         INTEGER NOT NULL,
  phase       TEXT NOT NULL CHECK (phase IN ('stage', 'apply', 'cleanup', 'undo', 'redo')),
  kind        TEXT NOT NULL,       -- mkdir | write | rename | chmod | rmdir | rmtree
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
  PRIMARY KEY (txn_id, seq)
);

-- The installed set each transaction will leave (recorded at begin, so commit and recover need no
-- manifest). action: install | replace | unchanged | chmod | preserved-install.
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
  PRIMARY KEY (txn_id, path)
);

-- The current installed set (managed paths only), replaced at each commit.
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

-- Stable audit views -------------------------------------------------------------------------
CREATE VIEW IF NOT EXISTS txn_history AS
  SELECT id, kind, app, from_version, to_version, state, started_at, finished_at, error
  FROM txn;

CREATE VIEW IF NOT EXISTS op_log AS
  SELECT txn_id, seq, kind, path, state, at
  FROM op;

CREATE VIEW IF NOT EXISTS installed_files AS
  SELECT path, sha256, size, printf('%o', mode) AS mode, version
  FROM installed
  WHERE type <> 'dir';
`;
