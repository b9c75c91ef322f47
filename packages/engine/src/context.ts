/**
 * Effects reach the engine through one context object: filesystem seam, clock, identity,
 * progress and interruption. The CLI wires the real ones; an embedding application may too.
 */
import * as os from 'node:os';
import { TOOL_VERSION } from '@codemate-txn/core';
import { TxnFs, faultConfigFromEnv } from '@codemate-txn/fsops';

export interface ProgressEvent {
  phase: 'scan' | 'stage' | 'apply' | 'cleanup' | 'undo';
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
