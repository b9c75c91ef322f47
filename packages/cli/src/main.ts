/**
 * The codemate-txn command: parse argv (commander), make one library call, print the result,
 * map TxnError.code to the exit code. main() returns the exit code; run() sets it.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { TOOL_VERSION, TxnError, EXIT } from '@codemate-txn/core';
import { defaultContext, type EngineContext } from '@codemate-txn/engine';
import { reportError, type OutputMode } from './output.js';
import { applyCommand, recoverCommand } from './cmd-apply.js';
import { manifestBuildCommand } from './cmd-manifest.js';
import { auditCommands } from './cmd-audit.js';
import { signCommands } from './cmd-sign.js';

export interface CommonOptions {
  target: string;
  journal?: string;
  json: boolean;
  quiet: boolean;
}

export interface Runtime {
  ctx: () => EngineContext;
  /** The first SIGINT/SIGTERM received, if any. */
  signal: () => string | undefined;
  setExit: (code: number) => void;
}

export function defaultTarget(): string {
  return process.env.CODEMATE_TXN_TARGET || path.join(os.homedir(), '.codemate');
}

export function withCommon(cmd: Command): Command {
  return cmd
    .option('--target <dir>', 'the installation directory (env CODEMATE_TXN_TARGET, default ~/.codemate)')
    .option('--journal <file>', 'journal database (default <parent>/<name>.journal.db)')
    .option('--json', 'print one JSON object on stdout', false)
    .option('--quiet', 'print nothing but errors', false);
}

export function commonOf(o: Record<string, unknown>): CommonOptions & OutputMode {
  // An empty value (`--target "$UNSET"`) would resolve to the current directory: refuse it.
  for (const flag of ['target', 'journal'] as const) {
    if (o[flag] === '') {
      throw new TxnError('E_USAGE', `--${flag} expects a path, found an empty string`, {
        hint: `give --${flag} a directory path, or leave it out to use ${flag === 'target' ? 'CODEMATE_TXN_TARGET or ~/.codemate' : '<parent>/<name>.journal.db'}; nothing was changed`,
      });
    }
  }
  return {
    target: path.resolve(typeof o.target === 'string' ? o.target : defaultTarget()),
    journal: typeof o.journal === 'string' ? o.journal : undefined,
    json: o.json === true,
    quiet: o.quiet === true,
  };
}

export function parseSeconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new TxnError('E_USAGE', `--wait expects a number of seconds ≥ 0, found "${v}"`);
  return n;
}

export async function main(argv: string[], rt?: Partial<Runtime>): Promise<number> {
  let exitCode: number = EXIT.ok;
  let sig: string | undefined;
  const runtime: Runtime = {
    ctx: rt?.ctx ?? (() => defaultContext()),
    signal: rt?.signal ?? (() => sig),
    setExit: (c) => { exitCode = c; },
  };
  const program = new Command('codemate-txn')
    .description('Transactional, journaled, crash-safe installs and updates of an application directory.')
    .version(TOOL_VERSION, '--version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showHelpAfterError('(run codemate-txn --help for usage)')
    .enablePositionalOptions()
    .exitOverride()
    // With --json, usage errors are one JSON object on stdout too (printed below), not commander's text.
    .configureOutput({ writeErr: (s) => { if (!argv.includes('--json')) process.stderr.write(s); } });
  program.addHelpText('after', `
Exit codes: 0 ok · 1 failed and rolled back (target unchanged) · 2 bad input or usage (nothing touched)
            3 an interrupted transaction needs 'recover' · 4 locked by another process
            5 verify found drift (or, with verify --journal, a tampered journal)
            70 internal error or rollback incomplete (run 'codemate-txn recover')
            130/143 SIGINT/SIGTERM: rolled back first`);

  applyCommand(program, runtime);
  recoverCommand(program, runtime);
  manifestBuildCommand(program, runtime);
  auditCommands(program, runtime);
  signCommands(program, runtime);

  const onSignal = (s: NodeJS.Signals): void => {
    // Deferred: the engine rolls back at its next step, then we exit with the signal's status.
    if (sig === undefined) {
      sig = s;
      process.stderr.write(`codemate-txn: ${s} received; stopping: the current transaction rolls back unless it already reached its commit point…\n`);
    }
  };
  const installSignals = rt?.signal === undefined;
  if (installSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e: unknown) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.ok;
      if (argv.includes('--json')) {
        reportError({ json: true, quiet: false }, new TxnError('E_USAGE', e.message.replace(/^error: /, ''), { hint: 'run codemate-txn --help for usage' }));
      }
      return EXIT.badInput;
    }
    exitCode = reportError({ json: argv.includes('--json'), quiet: false }, e);
  } finally {
    if (installSignals) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
  if (sig !== undefined && exitCode !== EXIT.ok) exitCode = sig === 'SIGINT' ? 130 : 143;
  return exitCode;
}

export function run(): void {
  // A reader that went away (| head) is not an error of ours: stop writing, keep our exit code.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
    });
  }
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (e: unknown) => { process.exitCode = reportError({ json: false, quiet: false }, e); },
  );
}

export { Option };
