/**
 * `verify --journal`: has anyone edited the journal's history? Recomputes the hash chain over
 * every txn, planned_file, op and event record, replays the events against the state columns,
 * recomputes the installed set from the committed plans, and checks the append-only triggers
 * (all in @codemate-txn/journal, read-only). The CLI maps a journal that does not verify to exit 5,
 * like drift on disk: it is what verify found, not a failure of the tool.
 */
import { TxnError } from '@codemate-txn/core';
import type { ChainProblem, ChainReport } from '@codemate-txn/journal';
import { layoutOf, readJournal, type AuditLocation } from './open-journal.js';
import { formatTable, plural } from './format-table.js';

export interface VerifyJournalOptions extends AuditLocation {
  /**
   * `SEQ:HASH` (or the object) from an earlier report's head, kept outside the journal: that
   * record must still have that hash. Catches a history rewritten with recomputed hashes.
   */
  anchor?: string | { seq: number; hash: string };
}

export interface JournalVerifyReport extends ChainReport {
  target: string;
  journal: string;
  /** The anchor checked, if any. */
  anchor: { seq: number; hash: string } | null;
}

export function verifyJournal(opts: VerifyJournalOptions): JournalVerifyReport {
  const layout = layoutOf(opts);
  const anchor = opts.anchor === undefined ? null : parseAnchor(opts.anchor);
  const report = readJournal(layout, (j) => j.verifyChain(anchor ? { anchor } : {}));
  return { target: layout.target, journal: layout.journal, anchor, ...report };
}

const ANCHOR = /^\s*(\d+)\s*:\s*([0-9a-fA-F]{64})\s*$/;

export function parseAnchor(v: string | { seq: number; hash: string }): { seq: number; hash: string } {
  if (typeof v !== 'string') return { seq: v.seq, hash: v.hash.toLowerCase() };
  const m = ANCHOR.exec(v);
  if (!m || Number(m[1]) < 1) {
    throw new TxnError('E_USAGE', `verify --anchor: expected SEQ:HASH (a chain position and its 64-hex sha256, as a previous verify --journal printed); found '${v}'`);
  }
  return { seq: Number(m[1]), hash: (m[2] as string).toLowerCase() };
}

function short(h: string): string {
  return `${h.slice(0, 12)}…`;
}

/** The verdict, the problems as a table, and what to do. */
export function formatVerifyJournal(r: JournalVerifyReport): string {
  const out: string[] = [];
  if (r.intact) {
    out.push(`intact: the journal's history verifies: ${plural(r.records, 'record')} chained, ${plural(r.txns, 'transaction')} (${r.journal})`);
    if (r.head) out.push(`head: ${r.head.seq}:${r.head.hash}`);
    if (r.anchor) out.push(`anchor ${r.anchor.seq}:${short(r.anchor.hash)} is in the chain: nothing up to it was rewritten`);
    if (r.migrated) {
      out.push(`note: transaction${r.migrated.txnIds.length === 1 ? '' : 's'} ${r.migrated.txnIds.join(', ')} predate schema 2 and were chained by its migration (records 1 to ${r.migrated.throughRecord}): the chain vouches for them from the migration on`);
    }
    if (r.head) out.push(`keep the head outside this machine; later, \`codemate-txn verify --journal --anchor ${r.head.seq}:${r.head.hash}\` also proves nothing before it was rewritten`);
    return out.join('\n');
  }
  const schemaOnly = r.problems.length === 1 && r.problems[0]?.kind === 'schema';
  if (schemaOnly) {
    out.push(`unverifiable: ${r.problems[0]?.message ?? ''}`);
    out.push(`(${r.journal})`);
    return out.join('\n');
  }
  const first = r.problems[0] as ChainProblem;
  const count = `${plural(r.problems.length, 'problem')}${r.truncated ? ' (list truncated)' : ''}`;
  out.push(`tampered: the journal's history does not verify: ${count} (${r.journal})`);
  out.push(`first problem: ${first.message}`);
  out.push('');
  out.push(formatTable(['KIND', 'AT', 'RECORD', 'PROBLEM'], r.problems.map((p) => [p.kind, p.at === null ? '-' : String(p.at), p.record, p.message])));
  out.push('');
  out.push('what to do: do not trust the history from the first problem on; compare with a copy of the journal or the log shipped off this machine (codemate-txn log --jsonl), and find out who had write access to it');
  return out.join('\n');
}
