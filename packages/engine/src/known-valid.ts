/**
 * Re-applying the installed release (a no-op, or --repair) need not run the manifest's schema and
 * path-rule passes again, the bulk of parsing a large manifest: bytes with the very sha256 of the
 * installed transaction's manifest passed them when it was applied, by this same version of the
 * code (a newer version may have new rules, so its answer counts only for its own version).
 */
import * as fs from 'node:fs';
import { TOOL_VERSION, targetLayout } from '@codemate-txn/core';
import { Journal } from '@codemate-txn/journal';

/** For LoadManifestOptions.isKnownValid: true for the installed manifest's exact bytes. */
export function knownValidManifest(target: string, journal?: string): (sha256: string) => boolean {
  return (sha256) => {
    const layout = targetLayout(target, journal);
    if (!fs.existsSync(layout.journal)) return false;
    let j: Journal | undefined;
    try {
      j = Journal.open(layout.journal, { peek: true });
      const m = j.installedManifest();
      return m !== undefined && m.sha256 === sha256 && m.toolVersion === TOOL_VERSION;
    } catch {
      return false; // unreadable here: the full checks run, and apply reports the journal itself
    } finally {
      j?.close();
    }
  };
}
