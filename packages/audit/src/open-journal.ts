/**
 * The one way audit reaches the journal: read-only (better-sqlite3 `readonly`, so any write is
 * refused by SQLite itself), resolved from the target like every other command (DESIGN §2).
 */
import * as fs from 'node:fs';
import { targetLayout, type TargetLayout } from '@codemate-txn/core';
import { Journal } from '@codemate-txn/journal';

/** Where to look: the target, and optionally a journal path that overrides `<target>.journal.db`. */
export interface AuditLocation {
  target: string;
  journal?: string;
}

export function layoutOf(loc: AuditLocation): TargetLayout {
  return targetLayout(loc.target, loc.journal);
}

export function journalExists(layout: TargetLayout): boolean {
  return fs.existsSync(layout.journal);
}

/**
 * Opens the journal read-only, runs `fn` synchronously and closes it. Throws E_NOT_FOUND (exit 2)
 * when there is no journal. Synchronous on purpose: no handle or read transaction is held across
 * an await, so an auditor never holds back a checkpoint of a running apply.
 */
export function readJournal<T>(layout: TargetLayout, fn: (journal: Journal) => T): T {
  const journal = Journal.open(layout.journal, { readonly: true });
  try {
    return fn(journal);
  } finally {
    journal.close();
  }
}
