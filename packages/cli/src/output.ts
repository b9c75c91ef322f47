/** Printing: one JSON object on stdout with --json; human text otherwise; errors on stderr. */
import { ERROR_CATALOGUE, isTxnError, errorMessage, exitCodeOf } from '@codemate-txn/core';

export interface OutputMode {
  json: boolean;
  quiet: boolean;
}

export function printJson(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj, null, 2) + '\n');
}

export function say(mode: OutputMode, text: string): void {
  if (!mode.json && !mode.quiet) process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

export function note(mode: OutputMode, text: string): void {
  if (!mode.json && !mode.quiet) process.stderr.write(`codemate-txn: ${text}\n`);
}

/** Prints an error the contract's way and returns its exit code. */
export function reportError(mode: OutputMode, e: unknown): number {
  const code = exitCodeOf(e);
  if (mode.json) {
    const err = isTxnError(e)
      ? { code: e.code, message: e.message, hint: e.hint ?? null, details: e.facts }
      : { code: 'E_INTERNAL', message: errorMessage(e), hint: 'this is a bug in codemate-txn; please report it with this output', details: {} };
    printJson({ ok: false, exitCode: code, error: err });
    return code;
  }
  if (isTxnError(e)) {
    process.stderr.write(`codemate-txn: error ${e.code}: ${e.message}\n`);
    if (e.hint) process.stderr.write(`  what to do: ${e.hint}\n`);
  } else {
    process.stderr.write(`codemate-txn: internal error: ${errorMessage(e)}\n`);
    if (e instanceof Error && e.stack) process.stderr.write(e.stack.split('\n').slice(1, 6).join('\n') + '\n');
    process.stderr.write(`  what to do: run codemate-txn recover if a transaction was running, and report this bug (${ERROR_CATALOGUE.E_INTERNAL[1]})\n`);
  }
  return code;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(1)} ${units[i]}`;
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`;
}
