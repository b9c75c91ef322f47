/**
 * Progress on stderr, only on a TTY and never with --json/--quiet: cli-progress (well kept,
 * no dependencies beyond string-width, handles TTY redraw and ETA).
 */
import type * as CliProgress from 'cli-progress';
import type { ProgressEvent } from '@codemate-txn/engine';
import { formatBytes, type OutputMode } from './output.js';

export interface Progress {
  onProgress?: (ev: ProgressEvent) => void;
  stop(): void;
}

export function makeProgress(mode: OutputMode): Progress {
  if (mode.json || mode.quiet || !process.stderr.isTTY) return { stop() {} };
  // Loaded only here: a run without a bar (scripts, CI, --json) never pays for it at start-up.
  const cliProgress = require('cli-progress') as typeof CliProgress;
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: '{phase} [{bar}] {count} | {rate} | ETA {eta_formatted}',
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let phase = '';
  let started = 0;
  let active = false;
  return {
    onProgress(ev) {
      // Downloads are measured in bytes (files in the label); everything else in files.
      const byBytes = ev.totalBytes !== undefined && ev.bytes !== undefined;
      const value = byBytes ? ev.bytes! : ev.done;
      const total = byBytes ? ev.totalBytes! : ev.total;
      if (ev.phase !== phase) {
        if (active) bar.stop();
        phase = ev.phase;
        started = Date.now();
        bar.start(total, 0, { phase: phase.padEnd(8), count: '', rate: '' });
        active = true;
      }
      const secs = Math.max(0.001, (Date.now() - started) / 1000);
      const count = byBytes ? `${ev.done}/${ev.total} files, ${formatBytes(value)} of ${formatBytes(total)}` : `${ev.done}/${ev.total} files`;
      const rate = byBytes ? `${formatBytes(Math.round(value / secs))}/s` : `${Math.round(value / secs)} files/s`;
      bar.setTotal(total);
      bar.update(value, { phase: phase.padEnd(8), count, rate });
    },
    stop() {
      if (active) bar.stop();
      active = false;
    },
  };
}
