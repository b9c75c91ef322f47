/**
 * Fault injection (DESIGN §10). Crash points are counted in one process: just before and just
 * after every filesystem mutation, and after every journal commit. Counting is deterministic for
 * the same inputs because, while any fault variable is set, the engine runs its I/O one at a time.
 */
import * as fs from 'node:fs';
import { TxnError } from '@codemate-txn/core';

export interface FaultConfig {
  /** SIGKILL self at the Nth crash point. */
  crashAt?: number;
  /** Append `N<TAB>label` per crash point passed. */
  crashpointsOut?: string;
  /** The Nth mutation fails with this errno code. */
  failAt?: { n: number; code: string };
}

export function faultConfigFromEnv(env: NodeJS.ProcessEnv): FaultConfig {
  const out: FaultConfig = {};
  const crash = env.CODEMATE_TXN_CRASH_AT;
  if (crash !== undefined && crash !== '') {
    const n = Number(crash);
    if (!Number.isInteger(n) || n < 1) {
      throw new TxnError('E_USAGE', `CODEMATE_TXN_CRASH_AT must be a positive integer, found "${crash}"`);
    }
    out.crashAt = n;
  }
  if (env.CODEMATE_TXN_CRASHPOINTS_OUT) out.crashpointsOut = env.CODEMATE_TXN_CRASHPOINTS_OUT;
  const fail = env.CODEMATE_TXN_FAIL_AT;
  if (fail !== undefined && fail !== '') {
    const m = /^(\d+):([A-Z][A-Z0-9]*)$/.exec(fail);
    if (!m || Number(m[1]) < 1) {
      throw new TxnError('E_USAGE', `CODEMATE_TXN_FAIL_AT must look like N:CODE (e.g. 3:ENOSPC), found "${fail}"`);
    }
    out.failAt = { n: Number(m[1]), code: m[2]! };
  }
  return out;
}

export function faultsActive(f: FaultConfig): boolean {
  return f.crashAt !== undefined || f.crashpointsOut !== undefined || f.failAt !== undefined;
}

const ERRNO: Record<string, number> = {
  EPERM: -1, ENOENT: -2, EIO: -5, EBADF: -9, EAGAIN: -11, ENOMEM: -12, EACCES: -13, EBUSY: -16,
  EEXIST: -17, EXDEV: -18, ENOTDIR: -20, EISDIR: -21, EINVAL: -22, EMFILE: -24, ENOSPC: -28,
  EROFS: -30, ENAMETOOLONG: -36, ENOTEMPTY: -39, ELOOP: -40, EDQUOT: -122,
};

export class FaultInjector {
  private points = 0;
  private mutations = 0;
  constructor(private readonly cfg: FaultConfig) {}

  get active(): boolean {
    return faultsActive(this.cfg);
  }

  /** A crash point: count it, report it, and die here if this is the chosen one. */
  point(label: string): void {
    if (!this.active) return;
    const n = ++this.points;
    if (this.cfg.crashpointsOut) fs.appendFileSync(this.cfg.crashpointsOut, `${n}\t${label}\n`);
    if (this.cfg.crashAt === n) {
      process.kill(process.pid, 'SIGKILL');
      // SIGKILL is delivered asynchronously on some platforms; never run past the crash point.
      for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
    }
  }

  /** Counts a mutation; throws the injected errno when it is the chosen one. */
  mutation(syscall: string, path: string): void {
    if (!this.cfg.failAt) return;
    const n = ++this.mutations;
    if (n === this.cfg.failAt.n) {
      const code = this.cfg.failAt.code;
      const err = new Error(`${code}: injected fault, ${syscall} '${path}'`) as NodeJS.ErrnoException;
      err.code = code;
      err.errno = ERRNO[code] ?? -1;
      err.syscall = syscall;
      err.path = path;
      throw err;
    }
  }
}
