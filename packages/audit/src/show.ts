/** `show <txn-id>`: one transaction, every op it journaled, and counts that summarise them. */
import { TxnError, VERSION_FILE } from '@codemate-txn/core';
import type { OpPhase, OpRecord, OpState, TxnRecord } from '@codemate-txn/journal';
import { layoutOf, readJournal, type AuditLocation } from './open-journal.js';
import { durationMs, formatBytes, formatDuration, formatTable, formatVersions, plural } from './format-table.js';

export interface ShowOptions extends AuditLocation {
  /** A transaction id (the CLI may pass the argv string as is). */
  txnId: number | string;
}

export interface ShowCounts {
  /** Number of ops journaled. */
  ops: number;
  byState: Record<OpState, number>;
  byPhase: Record<OpPhase, number>;
  /** By the op's `action` (what it was for), or its kind when it has none. */
  byAction: Record<string, number>;
  /** The installed set this transaction planned, by action (install, replace, unchanged, chmod, …). */
  planned: Record<string, number>;
  /** Release bytes written into staging by stage-phase writes that ran (not the version file). */
  bytesStaged: number;
  /** finished_at − started_at; null while unfinished. */
  durationMs: number | null;
}

export interface ShowReport {
  txn: TxnRecord;
  ops: OpRecord[];
  counts: ShowCounts;
}

/** Throws E_USAGE for an id that is not a positive integer, E_NOT_FOUND (exit 2) for an unknown one. */
export function show(opts: ShowOptions): ShowReport {
  const id = parseTxnId(opts.txnId);
  const layout = layoutOf(opts);
  return readJournal(layout, (j) => {
    const txn = j.getTxn(id);
    if (txn === undefined) {
      const last = j.lastTxn();
      throw new TxnError('E_NOT_FOUND', `no transaction ${id} in ${layout.journal}`, {
        hint: last === undefined ? 'the journal has no transactions yet' : `ids run from 1 to ${last.id}; see codemate-txn log`,
        details: { txnId: id, journal: layout.journal },
      });
    }
    const ops = j.ops(id);
    const planned: Record<string, number> = {};
    for (const p of j.plannedFiles(id)) planned[p.action] = (planned[p.action] ?? 0) + 1;
    return { txn, ops, counts: countOps(txn, ops, planned) };
  });
}

function parseTxnId(v: number | string): number {
  const n = typeof v === 'number' ? v : /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new TxnError('E_USAGE', `show: expected a transaction id (a positive whole number); found '${String(v)}'`, {
      hint: 'codemate-txn log lists the ids',
    });
  }
  return n;
}

function countOps(txn: TxnRecord, ops: readonly OpRecord[], planned: Record<string, number>): ShowCounts {
  const byState: Record<OpState, number> = { pending: 0, done: 0, undone: 0, skipped: 0, failed: 0 };
  const byPhase: Record<OpPhase, number> = { stage: 0, apply: 0, cleanup: 0, undo: 0, redo: 0 };
  const byAction: Record<string, number> = {};
  let bytesStaged = 0;
  for (const o of ops) {
    byState[o.state]++;
    byPhase[o.phase]++;
    const a = o.action ?? o.kind;
    byAction[a] = (byAction[a] ?? 0) + 1;
    // 'undone' stage writes did happen (their staging copy was removed on rollback). Release bytes
    // only, as txn_summary.bytes_staged and apply's bytesStaged count them: not the version file.
    if (o.phase === 'stage' && o.kind === 'write' && (o.state === 'done' || o.state === 'undone') && o.path !== VERSION_FILE) {
      bytesStaged += o.size ?? 0;
    }
  }
  return { ops: ops.length, byState, byPhase, byAction, planned, bytesStaged, durationMs: durationMs(txn.startedAt, txn.finishedAt) };
}

/** The transaction's facts, its ops as a table, and a one-line summary. */
export function formatShow(r: ShowReport): string {
  const t = r.txn;
  const facts: Array<[string, string]> = [
    ['transaction', `${t.id} (${t.kind} ${t.app} ${formatVersions(t.fromVersion, t.toVersion)})`],
    ['state', t.state + (t.recoveredBy ? ` (finished by ${t.recoveredBy})` : '')],
    ['started', t.startedAt],
    ['finished', t.finishedAt ?? '-'],
    ['took', formatDuration(r.counts.durationMs)],
    ['by', `${t.user}@${t.host} pid ${t.pid}, codemate-txn ${t.toolVersion}`],
    ['manifest', `${t.manifestSource} (sha256 ${t.manifestSha256})`],
    ['target', t.target],
    ['staging', t.stagingDir],
    ['backup', t.backupDir === null ? '-' : t.backupDir + (t.keepBackup ? ' (kept)' : '')],
  ];
  if (t.committedAt !== null) facts.splice(3, 0, ['committed', t.committedAt]);
  // Its place in the journal's hash chain: SEQ:HASH is an anchor for verify --journal --anchor.
  if (t.chainSeq !== null && t.hash !== null) facts.push(['chain', `${t.chainSeq}:${t.hash}`]);
  if (t.error !== null) facts.push(['error', `${t.errorCode ?? 'error'}: ${t.error}`]);
  const width = Math.max(...facts.map(([k]) => k.length));
  const head = facts.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');

  const planned = Object.entries(r.counts.planned).map(([a, n]) => `${n} ${a}`).join(', ');
  const states = Object.entries(r.counts.byState).filter(([, n]) => n > 0).map(([s, n]) => `${n} ${s}`).join(', ');
  const summary = [
    `${plural(r.counts.ops, 'op')}${states ? ` (${states})` : ''}`,
    planned ? `files: ${planned}` : '',
    `staged ${formatBytes(r.counts.bytesStaged)}`,
  ].filter((s) => s !== '').join('; ');

  if (r.ops.length === 0) return `${head}\n\nno ops journaled\n${summary}`;
  const table = formatTable(
    ['SEQ', 'PHASE', 'KIND', 'ACTION', 'STATE', 'PATH', 'BYTES', 'AT', 'TOOK', 'ERROR'],
    r.ops.map((o) => [
      String(o.seq),
      o.phase,
      o.kind,
      o.action ?? '',
      o.state,
      // path '' is the target or a side directory (staging, backup): name it.
      o.path === '' ? o.dst ?? o.src ?? '(target)' : o.path,
      o.size === null ? '' : String(o.size),
      o.at,
      o.doneAt === null ? '' : formatDuration(durationMs(o.at, o.doneAt)),
      o.error ?? '',
    ]),
  );
  return `${head}\n\n${table}\n\n${summary}`;
}
