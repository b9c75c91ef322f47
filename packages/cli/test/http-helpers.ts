/**
 * Shared by the CLI's HTTP tests: the bundled sample release laid out for a static server, and
 * the CLI run asynchronously (the test's own HTTP server lives in this process, so a synchronous
 * spawn would starve it).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildManifest, serializeManifest } from '@codemate-txn/manifest';
import { spawnCli, cliResult, type CliResult } from '@codemate-txn/testkit';

export const SAMPLE = path.resolve(__dirname, '..', '..', '..', 'test-fixtures', 'sample');

/** Modes as the demo normalises them: git keeps only the exec bit. */
function normaliseModes(dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    const p = path.join(dir, name);
    const st = fs.lstatSync(p);
    if (st.isDirectory()) {
      fs.chmodSync(p, 0o755);
      normaliseModes(p);
    } else if (st.isFile()) {
      fs.chmodSync(p, st.mode & 0o100 ? 0o755 : 0o644);
    }
  }
}

/**
 * `<root>/rel-<v>/files/` and `<root>/rel-<v>/manifest.json` (source ./files) for the sample's
 * 1.0.0 and 2.0.0, as scripts/demo.sh builds them; returns the manifest paths.
 */
export async function sampleReleases(root: string, edit?: (v: string, m: Record<string, unknown>) => void): Promise<Record<'1.0.0' | '2.0.0', string>> {
  const out: Record<string, string> = {};
  for (const v of ['1.0.0', '2.0.0']) {
    const files = path.join(root, `rel-${v}`, 'files');
    fs.cpSync(path.join(SAMPLE, `release-${v}`), files, { recursive: true, verbatimSymlinks: true });
    normaliseModes(files);
    if (v === '2.0.0') fs.mkdirSync(path.join(files, 'plugins', 'enabled'), { recursive: true, mode: 0o755 });
    const m = await buildManifest(files, { app: 'sample', version: v, source: './files' });
    let text = serializeManifest(m);
    if (edit) {
      const obj = JSON.parse(text) as Record<string, unknown>;
      edit(v, obj);
      text = JSON.stringify(obj, null, 2) + '\n';
    }
    out[v] = path.join(root, `rel-${v}`, 'manifest.json');
    fs.writeFileSync(out[v]!, text);
  }
  return out as Record<'1.0.0' | '2.0.0', string>;
}

/** Runs the CLI without blocking this process's event loop. */
export function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return cliResult(spawnCli(args, { env }));
}

/** Network flags that keep failure tests fast. */
export const FAST_NET = ['--timeout', '150', '--retries', '2', '--retry-delay', '1'];
