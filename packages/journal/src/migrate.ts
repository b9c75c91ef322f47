/**
 * Schema migrations by PRAGMA user_version, each step in one SQLite transaction. A fresh journal
 * gets the whole current schema at once.
 */
import type Database from 'better-sqlite3';

/** MIGRATIONS[n] takes a journal from version n to n+1. */
const MIGRATIONS: Record<number, string> = {};

export function migrate(db: Database.Database, schemaSql: string, target: number): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current === target) return;
  db.transaction(() => {
    if (current === 0) {
      db.exec(schemaSql);
    } else {
      for (let v = current; v < target; v++) {
        const step = MIGRATIONS[v];
        if (step === undefined) throw new Error(`no journal migration from schema ${v} to ${v + 1}`);
        db.exec(step);
      }
    }
    db.pragma(`user_version = ${target}`);
  })();
}
