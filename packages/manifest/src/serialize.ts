/**
 * Manifest → its canonical JSON text. Stable key order and formatting so a rebuilt manifest diffs
 * cleanly and its sha256 (recorded in the journal, covered by signatures) is reproducible.
 */
import { formatMode, type Manifest, type ManifestEntry } from '@codemate-txn/core';

export function serializeManifest(m: Manifest): string {
  const out: Record<string, unknown> = {
    schemaVersion: m.schemaVersion,
    app: m.app,
    version: m.version,
    source: m.source,
    files: m.files.map(entryJson),
  };
  if (m.preserve.length > 0) out.preserve = [...m.preserve];
  if (m.expires !== undefined) out.expires = m.expires;
  return `${JSON.stringify(out, null, 2)}\n`;
}

function entryJson(e: ManifestEntry): Record<string, unknown> {
  switch (e.type) {
    case 'symlink':
      return { path: e.path, type: 'symlink', target: e.target };
    case 'dir':
      return { path: e.path, type: 'dir', mode: formatMode(e.mode) };
    case 'file': {
      // "type" is omitted for files: it is the default and most entries are files.
      const o: Record<string, unknown> = { path: e.path, size: e.size, sha256: e.sha256, mode: formatMode(e.mode) };
      if (e.url !== undefined) o.url = e.url;
      return o;
    }
  }
}
