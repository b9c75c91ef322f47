/**
 * Effects reach the engine through one context object: filesystem seam, clock, identity,
 * progress and interruption. The CLI wires the real ones; an embedding application may too.
 */
import * as os from 'node:os';
import { TOOL_VERSION } from '@codemate-txn/core';
import { TxnFs, faultConfigFromEnv } from '@codemate-txn/fsops';
import type { Fetcher } from '@codemate-txn/fetch';

/**
 * `download` events come from staging over HTTP(S): done/total count the files to download,
 * bytes/totalBytes the bytes received (a retry's repeated bytes included) and expected. They are
 * emitted as bytes arrive (at most every 100 ms, and when a file completes), interleaved with
 * the `stage` events of the staging steps themselves.
 */
export interface ProgressEvent {
  phase: 'scan' | 'stage' | 'download' | 'apply' | 'cleanup' | 'undo';
  done: number;
  total: number;
  bytes?: number;
  totalBytes?: number;
}

export interface EngineContext {
  fs: TxnFs;
  now: () => Date;
  pid: number;
  host: string;
  user: string;
  toolVersion: string;
  /** Progress callback (the CLI draws a bar from it on a TTY). */
  onProgress?: (ev: ProgressEvent) => void;
  /** Human notes as they happen (recovery found, cleanup pending…). */
  onNote?: (msg: string) => void;
  /** Returns the signal name once SIGINT/SIGTERM arrived; the engine then rolls back at the next step. */
  interrupted?: () => string | undefined;
  /** Parallel file copies and hashes (forced to 1 while fault injection is on). */
  concurrency?: number;
  /**
   * The HTTP(S) client for http(s) sources (timeouts, retries, concurrency). When absent, staging
   * makes one with the defaults (and `concurrency`) on first use.
   */
  fetcher?: Fetcher;
}

function userName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? String(process.getuid?.() ?? 'unknown');
  }
}

/** The real context: real filesystem (with fault injection from the environment), real clock. */
export function defaultContext(env: NodeJS.ProcessEnv = process.env): EngineContext {
  return {
    fs: new TxnFs(faultConfigFromEnv(env)),
    now: () => new Date(),
    pid: process.pid,
    host: os.hostname(),
    user: userName(),
    toolVersion: TOOL_VERSION,
  };
}
