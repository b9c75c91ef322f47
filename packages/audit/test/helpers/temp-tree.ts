/** Temp directories and small trees for the audit tests (testkit needs fsops and manifest built). */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';

const temps: string[] = [];
process.on('exit', () => {
  if (process.env['CODEMATE_TXN_KEEP_TEMPS'] === '1') return;
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});

export function tempDir(prefix = 'codemate-txn-audit-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  temps.push(d);
  return d;
}

export type TreeEntry = string | { content: string; mode?: number } | { symlink: string } | { dir: true; mode?: number };

/** Writes `spec` under `root`: files with exact modes (chmod, so the umask does not matter). */
export function makeTree(root: string, spec: Record<string, TreeEntry>): void {
  for (const [rel, e] of Object.entries(spec)) {
    const abs = path.join(root, ...rel.split('/'));
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    if (typeof e === 'string' || 'content' in e) {
      fs.writeFileSync(abs, typeof e === 'string' ? e : e.content);
      fs.chmodSync(abs, typeof e === 'string' ? 0o644 : e.mode ?? 0o644);
    } else if ('symlink' in e) {
      fs.rmSync(abs, { force: true });
      fs.symlinkSync(e.symlink, abs);
    } else {
      fs.mkdirSync(abs, { recursive: true });
      fs.chmodSync(abs, e.mode ?? 0o755);
    }
  }
}

export function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
