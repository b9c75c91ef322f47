/**
 * The installed set a commit leaves, as a pure function of the set before it and the committing
 * transaction's plan. commitTxn writes it; verify recomputes it from the chained plans of every
 * committed transaction, so an edited `installed` row (which verify trusts to check the disk)
 * cannot go unnoticed.
 */
import type { EntryType } from '@codemate-txn/core';

export interface PlannedRow {
  path: string;
  type: EntryType;
  sha256: string | null;
  size: number | null;
  mode: number | null;
  linkTarget: string | null;
  action: string;
  managed: boolean;
}

export interface InstalledRow {
  path: string;
  type: EntryType;
  sha256: string | null;
  size: number | null;
  mode: number | null;
  linkTarget: string | null;
  /** Version of the transaction that last wrote the path. */
  version: string;
  txnId: number;
}

/**
 * Managed planned paths only (preserved files are the user's). An unchanged path keeps the
 * version and transaction that last wrote it; everything else is this transaction's.
 */
export function nextInstalledSet(
  before: ReadonlyMap<string, { version: string; txnId: number }>,
  planned: readonly PlannedRow[],
  txnId: number,
  toVersion: string,
): InstalledRow[] {
  const out: InstalledRow[] = [];
  for (const p of planned) {
    if (!p.managed) continue;
    const prior = before.get(p.path);
    const keep = p.action === 'unchanged' && prior !== undefined;
    out.push({
      path: p.path, type: p.type, sha256: p.sha256, size: p.size, mode: p.mode, linkTarget: p.linkTarget,
      version: keep ? prior.version : toVersion,
      txnId: keep ? prior.txnId : txnId,
    });
  }
  return out;
}
