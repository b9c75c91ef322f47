/**
 * `status`: what is installed, what happened last, whether anything is unfinished, and who holds
 * the lock. A target with no journal is an answer ("nothing installed"), not an error.
 */
import type { TxnRecord } from '@codemate-txn/journal';
import { journalExists, layoutOf, readJournal, type AuditLocation } from './open-journal.js';
import { lockState, type LockState } from './lock-state.js';
import { durationMs, formatDuration, formatVersions, plural } from './format-table.js';

export interface StatusReport {
  target: string;
  journal: string;
  journalExists: boolean;
  /** From the last transaction that reached its commit point; null when nothing is installed. */
  installed: { app: string; version: string; txnId: number } | null;
  /** Installed entries that are not directories (the rows of the installed_files view). */
  files: number;
  /** Installed directory entries. */
  dirs: number;
  lastTxn: TxnRecord | null;
  /**
   * Transactions not in a final state (done, rolled_back), oldest first. While `lock.held` they
   * are most likely still running; otherwise they need `codemate-txn recover` (a `committed` one
   * needs only its cleanup finished, which any next apply or recover does).
   */
  interrupted: TxnRecord[];
  lock: LockState;
}

export function status(opts: AuditLocation): StatusReport {
  const layout = layoutOf(opts);
  const lock = lockState(layout.lock);
  const base = { target: layout.target, journal: layout.journal };
  if (!journalExists(layout)) {
    return { ...base, journalExists: false, installed: null, files: 0, dirs: 0, lastTxn: null, interrupted: [], lock };
  }
  return readJournal(layout, (j) => {
    const installed = j.installedFiles();
    const dirs = installed.filter((f) => f.type === 'dir').length;
    return {
      ...base,
      journalExists: true,
      installed: j.installedVersion() ?? null,
      files: installed.length - dirs,
      dirs,
      lastTxn: j.lastTxn() ?? null,
      interrupted: j.interruptedTxns(),
      lock,
    };
  });
}

function describeTxn(t: TxnRecord): string {
  const when = t.finishedAt === null ? `started ${t.startedAt}` : `${t.finishedAt} (took ${formatDuration(durationMs(t.startedAt, t.finishedAt))})`;
  const err = t.error === null ? '' : `, ${t.errorCode ?? 'error'}: ${t.error}`;
  return `#${t.id} ${t.kind} ${t.app} ${formatVersions(t.fromVersion, t.toVersion)}: ${t.state}, ${when}${err}`;
}

/** Human text: one fact per line, then what to do next when something needs doing. */
export function formatStatus(r: StatusReport): string {
  const lines: Array<[string, string]> = [['target', r.target], ['journal', r.journal + (r.journalExists ? '' : ' (none)')]];
  lines.push([
    'installed',
    r.installed === null
      ? 'nothing'
      : `${r.installed.app} ${r.installed.version} (transaction ${r.installed.txnId}), ${plural(r.files, 'file')}${r.dirs ? `, ${plural(r.dirs, 'directory', 'directories')}` : ''}`,
  ]);
  lines.push(['last', r.lastTxn === null ? 'no transactions' : describeTxn(r.lastTxn)]);
  lines.push(['lock', lockText(r.lock)]);
  const next: string[] = [];
  for (const t of r.interrupted) {
    if (r.lock.held) {
      lines.push(['running', describeTxn(t)]);
    } else if (t.state === 'committed') {
      lines.push(['unfinished', `${describeTxn(t)} — installed; only cleanup is left`]);
      next.push('the next apply or `codemate-txn recover` finishes its cleanup');
    } else {
      lines.push(['interrupted', describeTxn(t)]);
      next.push('run `codemate-txn recover` to roll it back (or `recover --forward` to finish it)');
    }
  }
  const width = Math.max(...lines.map(([k]) => k.length));
  const out = lines.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  for (const n of new Set(next)) out.push(`next: ${n}`);
  return out.join('\n');
}

function lockText(l: LockState): string {
  if (!l.held) return 'free';
  const h = l.holder;
  const who = h === null ? `process ${l.pid ?? '?'}` : `process ${h.pid} on ${h.host} (${h.command}, since ${h.startedAt})`;
  return `held by ${who}${l.method === 'pid-alive' ? ' (judged from the holder file: the process is alive)' : ''}`;
}
