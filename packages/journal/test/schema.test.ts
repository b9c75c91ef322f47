/**
 * journal-schema.sql is SCHEMA_SQL, and a fresh journal and a migrated one end up with the same
 * schema: same columns in the same order, same indexes, views and triggers.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { Journal, SCHEMA_SQL, SCHEMA_VERSION } from '@codemate-txn/journal';
import { makeV1Journal, tempDir } from './helpers/v1-journal.js';

const ROOT_SQL = path.resolve(__dirname, '../../../journal-schema.sql');

test('journal-schema.sql at the repo root is exactly SCHEMA_SQL', () => {
  assert.fixture(fs.readFileSync(ROOT_SQL, 'utf8'), SCHEMA_SQL, 'regenerate it: node -e "process.stdout.write(require(\'./packages/journal/dist/schema.js\').SCHEMA_SQL)" > journal-schema.sql');
  assert.match(SCHEMA_SQL, `PRAGMA user_version = ${SCHEMA_VERSION}`);
});

test('journal-schema.sql runs in a plain SQLite database, twice (every statement is IF NOT EXISTS / OR IGNORE)', () => {
  const db = new Database(':memory:');
  db.exec(SCHEMA_SQL);
  db.exec(SCHEMA_SQL);
  assert.equal(db.prepare('SELECT one, seq FROM chain_head').all(), [{ one: 1, seq: 0 }]);
  db.close();
});

interface Shape {
  columns: Record<string, unknown[]>;
  indexes: unknown[];
  views: unknown[];
  triggers: unknown[];
  userVersion: number;
}

function shapeOf(file: string): Shape {
  const db = new Database(file, { readonly: true });
  const objects = db.prepare(`SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name`).all() as Array<{ type: string; name: string; sql: string | null }>;
  const columns: Record<string, unknown[]> = {};
  for (const o of objects.filter((x) => x.type === 'table' || x.type === 'view')) {
    columns[o.name] = db.prepare(`SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(?) ORDER BY cid`).all(o.name);
  }
  const shape = {
    columns,
    indexes: objects.filter((o) => o.type === 'index').map((o) => [o.name, o.sql]),
    views: objects.filter((o) => o.type === 'view').map((o) => [o.name, o.sql]),
    triggers: objects.filter((o) => o.type === 'trigger').map((o) => [o.name, o.sql]),
    userVersion: db.pragma('user_version', { simple: true }) as number,
  };
  db.close();
  return shape;
}

test('a fresh journal and a journal migrated from schema 1 have the same schema', () => {
  const dir = tempDir();
  const fresh = path.join(dir, 'fresh.db');
  Journal.open(fresh).close();
  const old = path.join(dir, 'old.db');
  makeV1Journal(old);
  Journal.open(old).close();
  const a = shapeOf(fresh);
  const b = shapeOf(old);
  assert.is(a.userVersion, SCHEMA_VERSION);
  assert.is(b.userVersion, SCHEMA_VERSION);
  assert.equal(Object.keys(b.columns).sort(), Object.keys(a.columns).sort());
  for (const t of Object.keys(a.columns)) assert.equal(b.columns[t], a.columns[t], `columns of ${t}`);
  assert.equal(b.indexes, a.indexes);
  assert.equal(b.views, a.views);
  assert.equal(b.triggers, a.triggers);
});

test('DESIGN §8 view columns come first and unchanged; additions are appended', () => {
  const dir = tempDir();
  const file = path.join(dir, 'j.db');
  Journal.open(file).close();
  const s = shapeOf(file);
  const names = (v: string) => (s.columns[v] as Array<{ name: string }>).map((c) => c.name);
  assert.equal(names('txn_history'), ['id', 'kind', 'app', 'from_version', 'to_version', 'state', 'started_at', 'finished_at', 'error']);
  assert.equal(names('op_log'), ['txn_id', 'seq', 'kind', 'path', 'state', 'at', 'phase', 'action', 'done_at', 'error']);
  assert.equal(names('installed_files'), ['path', 'sha256', 'size', 'mode', 'version', 'type', 'link_target']);
  assert.equal(names('file_history').slice(0, 6), ['path', 'txn_id', 'version', 'action', 'sha256', 'at']);
  assert.equal(names('txn_summary'), [
    'id', 'kind', 'app', 'from_version', 'to_version', 'state', 'installed', 'replaced', 'removed', 'unchanged',
    'preserved', 'chmod', 'bytes_staged', 'started_at', 'finished_at', 'duration_ms', 'error', 'error_code',
  ]);
  // Schema 1's table columns are all still there, first, in their order.
  const v1 = new Database(':memory:');
  v1.exec(fs.readFileSync(path.join(__dirname, 'fixtures', 'schema-v1.sql'), 'utf8'));
  for (const t of ['txn', 'op', 'planned_file', 'installed']) {
    const before = v1.prepare('SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(?) ORDER BY cid').all(t);
    assert.equal((s.columns[t] as unknown[]).slice(0, before.length), before, `v1 columns of ${t}`);
  }
  v1.close();
});

test.run();
