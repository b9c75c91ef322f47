/** manifest build. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { TxnError } from '@codemate-txn/core';
import { buildManifest, serializeManifest } from '@codemate-txn/manifest';
import type { Runtime } from './main.js';
import { reportError } from './output.js';

export function manifestBuildCommand(program: Command, rt: Runtime): void {
  const m = program.command('manifest').description('manifest tools');
  m.command('build <dir>')
    .description('make a manifest from a release tree (files, symlinks, empty directories)')
    .requiredOption('--app <name>', 'application name')
    .requiredOption('--version <semver>', 'release version')
    .option('--source <source>', 'where file bytes will be fetched from (path relative to the manifest, file: or http(s): URL)', './files')
    .option('-o, --output <file>', 'write the manifest here instead of stdout')
    .option('--json', 'errors as JSON', false)
    .action(async (dir: string, o: Record<string, unknown>) => {
      const mode = { json: o.json === true, quiet: false };
      try {
        if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
          throw new TxnError('E_USAGE', `manifest build: expected a release directory, found ${fs.existsSync(dir) ? 'a non-directory' : 'nothing'} at ${dir}`);
        }
        // The manifest being written (and its signature) never lists itself, however often it is built.
        const out = typeof o.output === 'string' ? path.resolve(o.output) : undefined;
        const manifest = await buildManifest(dir, { app: String(o.app), version: String(o.version), source: String(o.source), exclude: out ? [out, `${out}.sig`] : [] });
        const text = serializeManifest(manifest);
        if (typeof o.output === 'string') fs.writeFileSync(o.output, text);
        else process.stdout.write(text);
      } catch (e: unknown) {
        rt.setExit(reportError(mode, e));
      }
    });
}
