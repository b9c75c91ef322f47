/**
 * Progress on stderr, only on a TTY and never with --json/--quiet: cli-progress (well kept,
 * no dependencies beyond string-width, handles TTY redraw and ETA).
 */
import cliProgress from 'cli-progress';
import type { ProgressEvent } from '@codemate-txn/engine';
import type { OutputMode } from './output.js';

export interface Progress {
  onProgress?: (ev: ProgressEvent) => void;
  stop(): void;
}

export function makeProgress(mode: OutputMode): Progress {
  if (mode.json || mode.quiet || !process.stderr.isTTY) return { stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: '{phase} [{bar}] {value}/{total} files | {rate}/s | ETA {eta_formatted}',
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
      if (ev.phase !== phase) {
        if (active) bar.stop();
        phase = ev.phase;
        started = Date.now();
        bar.start(ev.total, 0, { phase: phase.padEnd(7), rate: 0 });
        active = true;
      }
      const secs = Math.max(0.001, (Date.now() - started) / 1000);
      bar.update(ev.done, { phase: phase.padEnd(7), rate: Math.round(ev.done / secs) });
    },
    stop() {
      if (active) bar.stop();
      active = false;
    },
  };
}
