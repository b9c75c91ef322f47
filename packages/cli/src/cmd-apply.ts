/** apply and recover. */
import * as fs from 'node:fs';
import type { Command } from 'commander';
import { TxnError } from '@codemate-txn/core';
import { apply, knownValidManifest, planApply, recover, type ApplyResult, type DryRunResult, type ProgressEvent, type RecoverResult } from '@codemate-txn/engine';
import type * as Audit from '@codemate-txn/audit';
import { createFetcher, openRelease, FETCH_DEFAULTS, type FeedChoice, type Fetcher } from '@codemate-txn/fetch';
import { readPublicKey } from '@codemate-txn/signing';
import { commonOf, parseSeconds, withCommon, type CommonOptions, type Runtime } from './main.js';
import { formatBytes, formatMs, note, printJson, reportError, say, type OutputMode } from './output.js';
import { makeProgress } from './progress.js';

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

/** A commander parser for a whole number ≥ min (E_USAGE otherwise). */
function wholeNumber(flag: string, min: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new TxnError('E_USAGE', `${flag} expects a whole number ≥ ${min}, found "${v}"`);
    return n;
  };
}

/** What the fetcher did, for --json and the closing lines. */
export interface DownloadSummary {
  /** Release files downloaded and the bytes received for them. */
  files: number;
  bytes: number;
  /** Bytes of the manifest, its signature and the feed. */
  documentBytes: number;
  requests: number;
  retries: number;
  ms: number;
  bytesPerSecond: number | null;
}

function downloadSummary(f: Fetcher): DownloadSummary {
  const s = f.stats;
  return { files: s.files, bytes: s.bytes, documentBytes: s.documentBytes, requests: s.requests, retries: s.retries, ms: s.activeMs, bytesPerSecond: s.activeMs > 0 ? Math.round((s.bytes * 1000) / s.activeMs) : null };
}

function describeDownload(d: DownloadSummary): string | undefined {
  if (d.files === 0) return undefined;
  const rate = d.bytesPerSecond === null ? '' : `, ${formatBytes(d.bytesPerSecond)}/s`;
  return `  downloaded ${d.files} file${d.files === 1 ? '' : 's'} (${formatBytes(d.bytes)}) in ${formatMs(d.ms)}${rate}; ${d.requests} requests, ${d.retries} retries`;
}

function describeFeed(f: FeedChoice): string[] {
  const lines = [`  from feed ${f.location} (channel ${f.channel}): ${f.release.version}`];
  for (const s of f.skipped) lines.push(`  skipped ${s.version}: ${s.reason}; run apply again after this update to reach it`);
  return lines;
}

/** The configured public key: --public-key, else CODEMATE_TXN_PUBLIC_KEY (a path or the PEM itself). */
function publicKeyOf(flag: unknown, env: NodeJS.ProcessEnv) {
  if (typeof flag === 'string') return readPublicKey(flag);
  const v = env.CODEMATE_TXN_PUBLIC_KEY;
  if (v === undefined || v.trim() === '') return undefined;
  return readPublicKey(v, v.trimStart().startsWith('-----') ? '$CODEMATE_TXN_PUBLIC_KEY' : `${v} (from CODEMATE_TXN_PUBLIC_KEY)`);
}

/** The installed version a feed choice starts from; null when nothing is installed. */
function installedVersionOf(mode: CommonOptions): string | null {
  if (!fs.existsSync(mode.target)) return null;
  // The audit package only for a feed (it asks what is installed); a manifest apply never loads it.
  const { status } = require('@codemate-txn/audit') as typeof Audit;
  return status({ target: mode.target, ...(mode.journal === undefined ? {} : { journal: mode.journal }) }).installed?.version ?? null;
}

function describeApply(r: ApplyResult): string {
  const c = r.counts;
  if (r.kind === 'noop') return `${r.app} ${r.toVersion} is already installed at ${r.target}; nothing to do (codemate-txn verify shows drift; --repair re-applies drifted files)`;
  const verb = r.kind === 'install' ? `installed ${r.app} ${r.toVersion}` : r.kind === 'repair' ? `repaired ${r.app} ${r.toVersion}` : `${r.kind === 'downgrade' ? 'downgraded' : 'updated'} ${r.app} ${r.fromVersion} → ${r.toVersion}`;
  const lines = [
    `${verb} at ${r.target} (transaction ${r.txnId})`,
    `  ${c.installed} installed, ${c.replaced} replaced, ${c.removed} removed, ${c.unchanged} unchanged, ${c.chmod} mode changes, ${c.preserved} preserved`,
    `  ${r.filesStaged} ${r.filesStaged === 1 ? 'file' : 'files'} (${formatBytes(r.bytesStaged)}) staged; took ${formatMs(r.durationsMs.total)}`,
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
    note(mode, `recovered interrupted transaction ${s.txnId} (${s.fromVersion ?? 'nothing'} → ${s.toVersion}, found '${s.found}'): ${s.action === 'rolled-back' ? 'rolled back' : s.action === 'rolled-forward' ? 'rolled forward' : s.action === 'cleanup-pending' ? 'its cleanup is still pending' : 'finished its cleanup'}`);
    for (const n of s.notes) note(mode, `  ${n}`);
  }
}

export function applyCommand(program: Command, rt: Runtime): void {
  withCommon(program.command('apply [manifest]'))
    .description('install or update the target from a release manifest (path, file: or http(s): URL) or from a release feed')
    .option('--dry-run', 'print the plan and change nothing (not even the journal)', false)
    .option('--keep-backup', 'keep the backup of replaced and removed files', false)
    .option('--allow-downgrade', 'allow installing an older version', false)
    .option('--allow-special-modes', 'allow setuid/setgid/sticky bits in manifest modes', false)
    .option('--repair', 'same version: re-apply files that drifted', false)
    .option('--preserve <pattern>', 'extra preserve pattern (repeatable, gitignore syntax)', collect, [] as string[])
    .option('--no-recover', 'refuse (exit 3) instead of recovering an interrupted transaction first')
    .option('--wait <seconds>', 'wait this long for another process holding the lock', parseSeconds, 0)
    .option('--public-key <file>', 'apply only a manifest signed (<manifest>.sig) by this ed25519 public key (PEM; env CODEMATE_TXN_PUBLIC_KEY: a path or the PEM)')
    .option('--feed <url>', 'choose the release from this feed (URL or path) instead of naming a manifest')
    .option('--to <version>', 'with --feed: "latest" (default) or an exact version')
    .option('--channel <name>', 'with --feed: also offer the prereleases of this channel (e.g. beta); default: stable releases only')
    .option('--concurrency <n>', 'downloads and file copies in parallel', wholeNumber('--concurrency', 1), FETCH_DEFAULTS.concurrency)
    .option('--timeout <ms>', 'network timeout in milliseconds: a connection silent this long fails (and is retried)', wholeNumber('--timeout', 1), FETCH_DEFAULTS.timeoutMs)
    .option('--retries <n>', 'retries of a download after a network error, timeout or 5xx answer', wholeNumber('--retries', 0), FETCH_DEFAULTS.retries)
    .option('--retry-delay <ms>', 'first delay before a retry in milliseconds, doubled per retry', wholeNumber('--retry-delay', 0), FETCH_DEFAULTS.retryDelayMs)
    .action(async (manifestArg: string | undefined, o: Record<string, unknown>) => {
      const mode = commonOf(o);
      const progress = makeProgress(mode);
      const fetcher = createFetcher({
        concurrency: o.concurrency as number,
        timeoutMs: o.timeout as number,
        retries: o.retries as number,
        retryDelayMs: o.retryDelay as number,
      });
      try {
        // Before anything else: the key (a bad one is exit 2), then the manifest, verified.
        const publicKey = publicKeyOf(o.publicKey, process.env);
        const ctx = rt.ctx();
        ctx.concurrency = o.concurrency as number;
        ctx.fetcher = fetcher;
        const opened = await openRelease({
          ...(manifestArg === undefined ? {} : { manifest: manifestArg }),
          ...(typeof o.feed === 'string' ? { feed: o.feed } : {}),
          ...(typeof o.to === 'string' ? { to: o.to } : {}),
          ...(typeof o.channel === 'string' ? { channel: o.channel } : {}),
          ...(publicKey === undefined ? {} : { publicKey }),
          installedVersion: () => installedVersionOf(mode),
          isKnownValid: knownValidManifest(mode.target, mode.journal),
          fetcher,
          cwd: process.cwd(),
          now: ctx.now,
          allowSpecialModes: o.allowSpecialModes === true,
        });
        if (opened.upToDate) {
          const f = opened.feed;
          if (mode.json) printJson({ ok: true, kind: 'noop', upToDate: true, installed: opened.installed, target: mode.target, feed: f, download: downloadSummary(fetcher) });
          else say(mode, `${opened.installed} is installed at ${mode.target}; the newest release on channel ${f.channel} of feed ${f.location} is ${f.release.version}; nothing to do`);
          return;
        }
        const loaded = opened.loaded;
        // manifestKnownValid: the bytes were the installed manifest's, so its schema and path-rule passes were skipped.
        const extra = { signedBy: loaded.signedBy, feed: opened.feed, manifestKnownValid: loaded.knownValid === true };
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
          if (mode.json) printJson({ ok: true, ...r, ...extra });
          else say(mode, describeDryRun(r));
          return;
        }
        ctx.interrupted = rt.signal;
        if (progress.onProgress) {
          // Over HTTP the bar follows bytes downloaded ('download') rather than staging steps.
          const show = progress.onProgress;
          let downloading = false;
          ctx.onProgress = (ev: ProgressEvent) => {
            if (ev.phase === 'download') downloading = true;
            else if (ev.phase === 'stage' && downloading) return;
            show(ev);
          };
        }
        const r = await apply(loaded, opts, ctx);
        progress.stop();
        const download = downloadSummary(fetcher);
        if (mode.json) {
          printJson({ ...r, download, ...extra });
        } else {
          describeRecovered(mode, r);
          const lines = [describeApply(r)];
          const d = describeDownload(download);
          if (d) lines.push(d);
          if (loaded.signedBy) lines.push(`  manifest signature verified (key ${loaded.signedBy})`);
          if (opened.feed) lines.push(...describeFeed(opened.feed));
          say(mode, lines.join('\n'));
          for (const w of r.warnings) process.stderr.write(`codemate-txn: warning: ${w}\n`);
        }
      } catch (e: unknown) {
        progress.stop();
        rt.setExit(reportError(mode, e));
      } finally {
        fetcher.close();
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
            : s.action === 'cleanup-pending' ? `committed; the target is at ${s.toVersion}, but its cleanup could not finish`
            : `finished its cleanup; the target is at ${s.toVersion}`;
          say(mode, `transaction ${s.txnId} (${s.fromVersion ?? 'nothing'} → ${s.toVersion}) was interrupted in state '${s.found}': ${what}`);
          for (const n of s.notes) say(mode, `  note: ${n}`);
        }
      } catch (e: unknown) {
        rt.setExit(reportError(mode, e));
      }
    });
}
