/** status, log, show, verify: thin over @codemate-txn/audit (read-only). */
import * as path from 'node:path';
import { Journal } from '@codemate-txn/journal';
import type { Command } from 'commander';
import { TxnError, EXIT } from '@codemate-txn/core';
import type * as Audit from '@codemate-txn/audit';
import { commonOf, withCommon, type Runtime } from './main.js';
import { printJson, reportError, say } from './output.js';

/** Loaded when an audit command runs: apply never needs it at start-up. */
const audit = (): typeof Audit => require('@codemate-txn/audit') as typeof Audit;

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

export function auditCommands(program: Command, rt: Runtime): void {
  withCommon(program.command('status'))
    .description('installed app and version, last transaction, any interrupted one, lock holder')
    .action(async (o: Record<string, unknown>) => {
      const mode = commonOf(o);
      try {
        const r = audit().status({ target: mode.target, journal: mode.journal });
        if (mode.json) printJson(r);
        else say(mode, audit().formatStatus(r));
      } catch (e: unknown) {
        rt.setExit(reportError(mode, e));
      }
    });

  withCommon(program.command('log'))
    .description('transactions, newest first')
    .option('--since <time>', 'ISO time, date, or age like 2h / 7d')
    .option('--until <time>', 'ISO time or date')
    .option('--state <state>', 'only transactions in this state')
    .option('--limit <n>', 'at most this many', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new TxnError('E_USAGE', `--limit expects a whole number ≥ 1, found "${v}"`);
      return n;
    })
    .option('--jsonl', 'one JSON object per transaction per line, oldest first (for log pipelines)', false)
    .action(async (o: Record<string, unknown>) => {
      const mode = commonOf(o);
      try {
        const rows = audit().log({
          target: mode.target, journal: mode.journal,
          since: o.since as string | undefined, until: o.until as string | undefined,
          state: o.state as string | undefined, limit: o.limit as number | undefined,
        });
        if (o.jsonl === true) {
          const text = audit().logJsonl([...rows].reverse());
          if (text) process.stdout.write(text.endsWith('\n') ? text : text + '\n');
        } else if (mode.json) printJson({ ok: true, transactions: rows });
        else say(mode, audit().formatLog(rows));
      } catch (e: unknown) {
        rt.setExit(reportError(mode, e));
      }
    });

  withCommon(program.command('show <txn-id>'))
    .description('one transaction and its ops')
    .action(async (id: string, o: Record<string, unknown>) => {
      const mode = commonOf(o);
      try {
        const r = audit().show({ target: mode.target, journal: mode.journal, txnId: id });
        if (mode.json) printJson({ ok: true, ...r });
        else say(mode, audit().formatShow(r));
      } catch (e: unknown) {
        rt.setExit(reportError(mode, e));
      }
    });

  // verify takes --journal with an optional value: alone it means "verify the journal's own
  // history" (its hash chain); with a path it is the common --journal PATH of every command.
  program.command('verify')
    .description('compare the disk with the installed files (exit 5 on drift); with --journal, check the journal\'s own history instead (exit 5 if tampered)')
    .option('--target <dir>', 'the installation directory (env CODEMATE_TXN_TARGET, default ~/.codemate)')
    .option('--journal [file]', 'alone: verify the journal\'s hash chain (tamper evidence); with FILE: the journal database to use (default <parent>/<name>.journal.db)')
    .option('--chain', 'verify the journal\'s hash chain (what --journal alone does; use with --journal FILE)', false)
    .option('--anchor <seq:hash>', 'with the chain check: a head printed by an earlier verify --journal that must still be in the chain')
    .option('--preserve <pattern>', 'extra preserve pattern to ignore (repeatable)', collect, [] as string[])
    .option('--json', 'print one JSON object on stdout', false)
    .option('--quiet', 'print nothing but errors', false)
    .action(async (o: Record<string, unknown>) => {
      const mode = commonOf(o);
      const chain = o.journal === true || o.chain === true || typeof o.anchor === 'string';
      try {
        if (chain) {
          const r = audit().verifyJournal({ target: mode.target, journal: mode.journal, ...(typeof o.anchor === 'string' ? { anchor: o.anchor } : {}) });
          if (mode.json) printJson({ ok: r.intact, ...r });
          else say(mode, audit().formatVerifyJournal(r));
          if (!r.intact) rt.setExit(EXIT.drift);
          return;
        }
        // A journal named without a target: check the target that journal records, not ~/.codemate.
        const target = typeof o.target !== 'string' && mode.journal ? recordedTarget(mode.journal) ?? mode.target : mode.target;
        const r = await audit().verify({ target, journal: mode.journal, preserve: o.preserve as string[] });
        if (mode.json) printJson({ ok: r.clean, ...r });
        else say(mode, audit().formatVerify(r));
        if (!r.clean) rt.setExit(EXIT.drift);
      } catch (e: unknown) {
        rt.setExit(reportError(mode, e));
      }
    });
}

/** The target the journal's latest transaction recorded, if any. */
function recordedTarget(journal: string): string | undefined {
  try {
    const j = Journal.open(path.resolve(journal), { readonly: true });
    try {
      return j.lastTxn()?.target;
    } finally {
      j.close();
    }
  } catch {
    return undefined;
  }
}
