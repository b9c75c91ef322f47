/**
 * Temporary directories for tests: made under os.tmpdir(), remembered, and removed by
 * cleanupTemps() (also run once at process exit, so a failing test does not leak them).
 * Set CODEMATE_TXN_KEEP_TEMPS=1 to keep them for a post-mortem.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const temps = new Set<string>();
let exitHookInstalled = false;

/** Makes a fresh empty directory `<os.tmpdir()>/<prefix>XXXXXX` and registers it for cleanup. */
export function tempDir(prefix = 'codemate-txn-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  temps.add(dir);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => cleanupTemps());
  }
  return dir;
}

/** Removes every directory tempDir() made so far (even ones a test made read-only). */
export function cleanupTemps(): void {
  if (process.env['CODEMATE_TXN_KEEP_TEMPS'] === '1') return;
  for (const dir of temps) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // A directory without write or search permission stops rm; open everything up and retry.
      makeWritable(dir);
      fs.rmSync(dir, { recursive: true, force: true });
    }
    temps.delete(dir);
  }
}

function makeWritable(dir: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch {
    return;
  }
  if (!st.isDirectory()) return;
  fs.chmodSync(dir, 0o700);
  for (const name of fs.readdirSync(dir)) makeWritable(path.join(dir, name));
}
