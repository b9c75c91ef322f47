/**
 * A real case-insensitive directory for tests, on Linux machines whose kernel cannot mount one
 * natively (no ext4 casefold): `casefold-fs.py` (beside this package's src/) mounted with FUSE
 * over a temp dir. Names are matched ignoring case and keep the spelling they were created with,
 * as on macOS and Windows disks. Needs /dev/fuse, fusermount and Debian's python3-fusepy
 * (.ci/run installs them); where any is missing, the reason comes back instead of a mount.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { tempDir } from './temp-dir.js';

export interface CaseInsensitiveMount {
  /** The mounted directory: case-insensitive, case-preserving. */
  dir: string;
  /** Unmounts and waits for the filesystem process to end. Call before cleanupTemps(). */
  unmount(): Promise<void>;
}

const PYTHON = '/usr/bin/python3';
const SCRIPT = path.join(__dirname, '..', 'casefold-fs.py');

function fusermount(): string | undefined {
  for (const name of ['fusermount3', 'fusermount']) {
    if (spawnSync(name, ['-V'], { stdio: 'ignore' }).status === 0) return name;
  }
  return undefined;
}

/** Why no case-insensitive directory can be mounted here, or undefined when one can. */
export function caseInsensitiveUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `FUSE mount helper is for Linux (this is ${process.platform})`;
  try {
    fs.accessSync('/dev/fuse', fs.constants.R_OK | fs.constants.W_OK);
  } catch {
    return 'no usable /dev/fuse';
  }
  if (fusermount() === undefined) return 'no fusermount (Debian package fuse3)';
  if (spawnSync(PYTHON, ['-c', 'import fusepy'], { stdio: 'ignore' }).status !== 0) return `no fusepy for ${PYTHON} (Debian package python3-fusepy)`;
  return undefined;
}

function isMountPoint(dir: string): boolean {
  try {
    return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === dir);
  } catch {
    return false;
  }
}

/** Mounts a fresh case-insensitive directory, or resolves to the reason it cannot. */
export async function mountCaseInsensitive(): Promise<CaseInsensitiveMount | { unavailable: string }> {
  const why = caseInsensitiveUnavailable();
  if (why !== undefined) return { unavailable: why };
  const backing = tempDir('codemate-txn-casefold-backing-');
  const dir = fs.realpathSync(tempDir('codemate-txn-casefold-'));
  const child: ChildProcess = spawn(PYTHON, [SCRIPT, backing, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let waited = 0; !isMountPoint(dir); waited += 20) {
    if (child.exitCode !== null || waited > 10_000) {
      child.kill('SIGKILL');
      return { unavailable: `casefold-fs.py did not mount (${stderr.trim() || `exit ${child.exitCode}`})` };
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const tool = fusermount()!;
  let mounted = true;
  const unmountSync = (): void => {
    if (!mounted) return;
    mounted = false;
    if (spawnSync(tool, ['-u', dir], { stdio: 'ignore' }).status !== 0) spawnSync(tool, ['-uz', dir], { stdio: 'ignore' });
  };
  process.once('exit', unmountSync);
  return {
    dir,
    async unmount() {
      unmountSync();
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    },
  };
}
