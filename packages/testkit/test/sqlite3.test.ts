import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sqlite3, sqlite3Json, sqlite3Available } from '../src/sqlite3.js';
import { tempDir, cleanupTemps } from '../src/temp-dir.js';

test.after(cleanupTemps);

/** A small WAL-mode database with a table and a view, like the journal's audit views. */
function makeDb(): { file: string; db: Database.Database } {
  const file = path.join(tempDir(), 'j.journal.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(`
    create table txn (id integer primary key, app text not null, to_version text, error text);
    create view txn_history as select id, app, to_version, error from txn;
  `);
  const ins = db.prepare('insert into txn (app, to_version, error) values (?, ?, ?)');
  ins.run('sample', '1.0.0', null);
  ins.run('sample', '2.0.0', 'disk full | retry');
  ins.run('résumé', '3.0.0', null);
  return { file, db };
}

if (!sqlite3Available()) {
  test('sqlite3 shell missing: shell tests skipped', () => {
    console.log('  (skipped: no sqlite3 on PATH)');
  });
} else {
  test('list mode: one line per row, "|" between columns, NULL as empty, no header', () => {
    const { file, db } = makeDb();
    db.close();
    assert.is(sqlite3(file, 'select id, app, to_version, error from txn_history order by id'),
      '1|sample|1.0.0|\n2|sample|2.0.0|disk full | retry\n3|résumé|3.0.0|');
    assert.is(sqlite3(file, "select count(*) from txn_history where app = 'sample'"), '2');
  });

  test('an empty result is the empty string', () => {
    const { file, db } = makeDb();
    db.close();
    assert.is(sqlite3(file, 'select * from txn where id > 99'), '');
  });

  test('reads committed rows still in the WAL while the writer keeps the db open', () => {
    const { file, db } = makeDb();
    db.prepare('insert into txn (app, to_version) values (?, ?)').run('sample', '4.0.0');
    assert.ok(fs.existsSync(`${file}-wal`));
    assert.is(sqlite3(file, 'select max(to_version) from txn_history'), '4.0.0');
    db.close();
  });

  test('sqlite3Json returns typed rows keyed by column', () => {
    const { file, db } = makeDb();
    db.close();
    assert.equal(sqlite3Json(file, 'select id, app, error from txn_history order by id limit 2'), [
      { id: 1, app: 'sample', error: null },
      { id: 2, app: 'sample', error: 'disk full | retry' },
    ]);
    assert.equal(sqlite3Json(file, 'select * from txn where 0'), []);
  });

  test('several statements and dot-commands run in one call', () => {
    const { file, db } = makeDb();
    db.close();
    assert.is(sqlite3(file, "insert into txn (app) values ('x'); select count(*) from txn;"), '4');
    assert.match(sqlite3(file, '.tables'), /txn_history/);
  });

  test('a failing query throws with the shell\'s message and the sql', () => {
    const { file, db } = makeDb();
    db.close();
    assert.throws(() => sqlite3(file, 'select * from no_such_view'), (e: Error) =>
      /no such table: no_such_view/.test(e.message) && /sql: select \* from no_such_view/.test(e.message));
  });

  test('readonly refuses writes', () => {
    const { file, db } = makeDb();
    db.close();
    assert.throws(() => sqlite3(file, "insert into txn (app) values ('x')", { readonly: true }), /readonly/);
    assert.is(sqlite3(file, 'select count(*) from txn', { readonly: true }), '3');
  });

  test('a missing database is an error and is not created', () => {
    const file = path.join(tempDir(), 'absent.journal.db');
    assert.throws(() => sqlite3(file, 'select 1'), /no database at/);
    assert.not.ok(fs.existsSync(file));
  });
}

test.run();
