/**
 * Runs the real `codemate-txn` bin in a child process, the way a user would: `node
 * <repo>/packages/cli/bin/codemate-txn.js ...args`. Inherited CODEMATE_TXN_* variables are
 * dropped so a test sees only the ones it passes in `env`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface CliOptions {
  /** Added to (and overriding) the inherited environment. */
  env?: Record<string, string>;
  cwd?: string;
  /** Written to the child's stdin, which is then closed. */
  input?: string;
  /** Kill the child with SIGKILL after this many ms (runCli only; default 120000). */
  timeoutMs?: number;
}

export interface CliResult {
  /** Exit code, or null when the child died of a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Absolute path of the CLI's bin script; throws if the CLI has not been built. */
export function cliPath(): string {
  const root = repoRoot();
  const bin = path.join(root, 'packages', 'cli', 'bin', 'codemate-txn.js');
  const main = path.join(root, 'packages', 'cli', 'dist', 'main.js');
  if (!fs.existsSync(main)) {
    throw new Error(`runCli: the CLI is not built: expected ${main}, found nothing; run \`npx tsc -b\` first`);
  }
  return bin;
}

/** Runs the CLI to completion and returns its exit status and output. */
export function runCli(args: string[], opts: CliOptions = {}): CliResult {
  const r = spawnSync(process.execPath, [cliPath(), ...args], {
    cwd: opts.cwd,
    env: childEnv(opts.env),
    input: opts.input ?? '',
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    timeout: opts.timeoutMs ?? 120_000,
    killSignal: 'SIGKILL',
  });
  if (r.error && r.status === null && r.signal === null) throw r.error;
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Starts the CLI and returns the running child (stdio piped) for lock, signal and crash tests. */
export function spawnCli(args: string[], opts: Omit<CliOptions, 'timeoutMs'> = {}): ChildProcess {
  const child = spawn(process.execPath, [cliPath(), ...args], {
    cwd: opts.cwd,
    env: childEnv(opts.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin?.end(opts.input ?? '');
  return child;
}

/** Collects a spawned child's output and resolves with its result when it exits. */
export function cliResult(child: ChildProcess): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('CODEMATE_TXN_')) env[k] = v;
  }
  return { ...env, ...extra };
}

let cachedRoot: string | undefined;

/** The repository root: the nearest ancestor of this file holding packages/cli/bin/codemate-txn.js. */
function repoRoot(): string {
  if (cachedRoot) return cachedRoot;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'packages', 'cli', 'bin', 'codemate-txn.js'))) return (cachedRoot = dir);
    if (path.dirname(dir) === dir) {
      throw new Error(`runCli: no repository root above ${__dirname}: expected packages/cli/bin/codemate-txn.js`);
    }
  }
}
