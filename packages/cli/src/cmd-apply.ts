/** apply and recover. */
import type { Command } from 'commander';
import { loadManifestFile } from '@codemate-txn/manifest';
import { apply, planApply, recover, type ApplyResult, type DryRunResult, type RecoverResult } from '@codemate-txn/engine';
import { commonOf, parseSeconds, withCommon, type Runtime } from './main.js';
import { formatBytes, formatMs, note, printJson, reportError, say, type OutputMode } from './output.js';
import { makeProgress } from './progress.js';

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

function describeApply(r: ApplyResult): string {
  const c = r.counts;
  if (r.kind === 'noop') return `${r.app} ${r.toVersion} is already installed at ${r.target}; nothing to do`;
  const verb = r.kind === 'install' ? `installed ${r.app} ${r.toVersion}` : r.kind === 'repair' ? `repaired ${r.app} ${r.toVersion}` : `${r.kind === 'downgrade' ? 'downgraded' : 'updated'} ${r.app} ${r.fromVersion} → ${r.toVersion}`;
  const lines = [
    `${verb} at ${r.target} (transaction ${r.txnId})`,
    `  ${c.installed} installed, ${c.replaced} replaced, ${c.removed} removed, ${c.unchanged} unchanged, ${c.chmod} mode changes, ${c.preserved} preserved`,
    `  ${r.filesStaged} files (${formatBytes(r.bytesStaged)}) staged; took ${formatMs(r.durationsMs.total)}`,
  ];
  if (r.backupDir) lines.push(`  backup kept at ${r.backupDir}`);
  return lines.join('\n');
}

function describeDryRun(r: DryRunResult): string {
  const c = r.counts;
  const lines: string[] = [];
  if (r.wouldRecover.length) lines.push(`would first recover interrupted transaction(s) ${r.wouldRecover.join(', ')}`);
  if (r.kind === 'noop') {
    lines.push(`dry run: ${r.app} ${r.toVersion} is already installed at ${r.target}; nothing to do`);
    return lines.join('\n');
  }
  lines.push(`dry run: would ${r.kind} ${r.app} ${r.fromVersion ? r.fromVersion + ' → ' : ''}${r.toVersion} at ${r.target}`);
  lines.push(`  install ${c.installed}, replace ${c.replaced}, delete ${c.removed}, unchanged ${c.unchanged}, chmod ${c.chmod}, preserved ${c.preserved}; ${formatBytes(r.bytesToStage)} to stage`);
  const show = (label: string, paths: string[]) => {
    if (paths.length === 0) return;
    lines.push(`  ${label}:`);
    for (const p of paths.slice(0, 50)) lines.push(`    ${p}`);
    if (paths.length > 50) lines.push(`    … and ${paths.length - 50} more (use --json for all)`);
  };
  show('install', r.paths.install);
  show('replace', r.paths.replace);
  show('delete', r.paths.delete);
  show('chmod', r.paths.chmod);
  show('preserved (left alone)', r.paths.preserved);
  lines.push('nothing was changed');
  return lines.join('\n');
}

function describeRecovered(mode: OutputMode, r: { recovered: RecoverResult['recovered'] }): void {
  for (const s of r.recovered) {
    note(mode, `recovered interrupted transaction ${s.txnId} (${s.fromVersion ?? 'nothing'} → ${s.toVersion}, found '${s.found}'): ${s.action === 'rolled-back' ? 'rolled back' : s.action === 'rolled-forward' ? 'rolled forward' : 'finished its cleanup'}`);
    for (const n of s.notes) note(mode, `  ${n}`);
  }
}

export function applyCommand(program: Command, rt: Runtime): void {
  withCommon(program.command('apply <manifest>'))
    .description('install or update the target from a release manifest (path or file: URL)')
    .option('--dry-run', 'print the plan and change nothing (not even the journal)', false)
    .option('--keep-backup', 'keep the backup of replaced and removed files', false)
    .option('--allow-downgrade', 'allow installing an older version', false)
    .option('--allow-special-modes', 'allow setuid/setgid/sticky bits in manifest modes', false)
    .option('--repair', 'same version: re-apply files that drifted', false)
    .option('--preserve <pattern>', 'extra preserve pattern (repeatable, gitignore syntax)', collect, [] as string[])
    .option('--no-recover', 'refuse (exit 3) instead of recovering an interrupted transaction first')
    .option('--wait <seconds>', 'wait this long for another process holding the lock', parseSeconds, 0)
    .action(async (manifestArg: string, o: Record<string, unknown>) => {
      const mode = commonOf(o);
      const progress = makeProgress(mode);
      try {
        const loaded = await loadManifestFile(manifestArg, process.cwd(), { allowSpecialModes: o.allowSpecialModes === true });
        const ctx = rt.ctx();
        const opts = {
          target: mode.target,
          journal: mode.journal,
          keepBackup: o.keepBackup === true,
          allowDowngrade: o.allowDowngrade === true,
          repair: o.repair === true,
          preserve: o.preserve as string[],
          noRecover: o.recover === false,
          waitSeconds: o.wait as number,
        };
        if (o.dryRun === true) {
          const r = await planApply(loaded, opts, ctx);
          if (mode.json) printJson({ ok: true, ...r });
          else say(mode, describeDryRun(r));
          return;
        }
        ctx.interrupted = rt.signal;
        ctx.onProgress = progress.onProgress;
        const r = await apply(loaded, opts, ctx);
        progress.stop();
        if (mode.json) {
          printJson(r);
        } else {
          describeRecovered(mode, r);
          say(mode, describeApply(r));
          for (const w of r.warnings) process.stderr.write(`codemate-txn: warning: ${w}\n`);
        }
      } catch (e: unknown) {
        progress.stop();
        rt.setExit(reportError(mode, e));
      }
    });
}

export function recoverCommand(program: Command, rt: Runtime): void {
  withCommon(program.command('recover'))
    .description('undo (or, with --forward, finish) a transaction that a crash interrupted')
    .option('--forward', 'finish an interrupted apply instead of undoing it, when every staged file verifies', false)
    .option('--wait <seconds>', 'wait this long for another process holding the lock', parseSeconds, 0)
    .action(async (o: Record<string, unknown>) => {
      const mode = commonOf(o);
      try {
        const r = await recover({ target: mode.target, journal: mode.journal, forward: o.forward === true, waitSeconds: o.wait as number }, rt.ctx());
        if (mode.json) {
          printJson(r);
          return;
        }
        if (r.recovered.length === 0) say(mode, `no interrupted transaction at ${r.target}; nothing to do`);
        for (const s of r.recovered) {
          const what = s.action === 'rolled-back' ? `rolled back; the target is as it was before (${s.fromVersion ?? 'nothing installed'})`
            : s.action === 'rolled-forward' ? `rolled forward; the target is at ${s.toVersion}`
            : `finished its cleanup; the target is at ${s.toVersion}`;
          say(mode, `transaction ${s.txnId} (${s.fromVersion ?? 'nothing'} → ${s.toVersion}) was interrupted in state '${s.found}': ${what}`);
          for (const n of s.notes) say(mode, `  note: ${n}`);
        }
      } catch (e: unknown) {
        rt.setExit(reportError(mode, e));
      }
    });
}
