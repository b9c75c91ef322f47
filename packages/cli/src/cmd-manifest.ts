/** manifest build. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { TxnError, errorMessage } from '@codemate-txn/core';
import { buildManifest, serializeManifest } from '@codemate-txn/manifest';
import type { Runtime } from './main.js';
import { printJson, reportError, say } from './output.js';

export function manifestBuildCommand(program: Command, rt: Runtime): void {
  const m = program.command('manifest').description('manifest tools');
  m.command('build <dir>')
    .description('make a manifest from a release tree (files, symlinks, empty directories)')
    .requiredOption('--app <name>', 'application name')
    .requiredOption('--version <semver>', 'release version')
    .option('--source <source>', 'where file bytes will be fetched from: a path relative to the manifest, a file: or an http(s): URL (default: <dir>, relative to the -o file, or to the current directory when printing)')
    .option('-o, --output <file>', 'write the manifest here instead of stdout')
    .option('--json', 'with -o: one JSON object saying what was written; errors as JSON', false)
    .option('--quiet', 'print nothing but errors', false)
    .action(async (dir: string, o: Record<string, unknown>) => {
      const mode = { json: o.json === true, quiet: o.quiet === true };
      try {
        if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
          throw new TxnError('E_USAGE', `manifest build: expected a release directory, found ${fs.existsSync(dir) ? 'a non-directory' : 'nothing'} at ${dir}`);
        }
        // The manifest being written (and its signature) never lists itself, however often it is built.
        const out = typeof o.output === 'string' ? path.resolve(o.output) : undefined;
        const source = typeof o.source === 'string' ? o.source : defaultSource(dir, out);
        const manifest = await buildManifest(dir, { app: String(o.app), version: String(o.version), source, exclude: out ? [out, `${out}.sig`] : [] });
        const text = serializeManifest(manifest);
        if (out === undefined) {
          process.stdout.write(text);
          return;
        }
        try {
          fs.writeFileSync(out, text);
        } catch (e: unknown) {
          const why = (e as NodeJS.ErrnoException).code ?? 'error';
          const found = why === 'ENOENT' ? 'its directory does not exist' : why === 'EISDIR' ? 'it is a directory' : errorMessage(e);
          throw new TxnError('E_USAGE', `manifest build: cannot write the manifest to ${out}: expected a writable file path, found ${found} (${why})`, {
            hint: 'give -o a file path in an existing, writable directory; nothing was written',
            cause: e,
          });
        }
        const summary = { ok: true, output: out, app: manifest.app, version: manifest.version, entries: manifest.files.length, source: manifest.source };
        if (mode.json) printJson(summary);
        else say(mode, `wrote ${o.output}: ${summary.app} ${summary.version}, ${summary.entries} entries, source ${summary.source}`);
      } catch (e: unknown) {
        rt.setExit(reportError(mode, e));
      }
    });
}

/**
 * Without --source the bytes are where they were read from: <dir> relative to where the manifest
 * goes (the -o file's directory, or the current directory when it is printed), '/'-separated.
 * `manifest build rel/files -o rel/manifest.json` gives "./files".
 */
export function defaultSource(dir: string, out: string | undefined): string {
  const rel = path.relative(out ? path.dirname(out) : process.cwd(), path.resolve(dir)).split(path.sep).join('/');
  if (rel === '') return '.';
  return rel.startsWith('../') || rel === '..' ? rel : `./${rel}`;
}
