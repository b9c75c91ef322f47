/** Signing helpers: keygen (an ed25519 key pair) and sign (<manifest>.sig over its exact bytes). */
import * as path from 'node:path';
import type { Command } from 'commander';
import { parseManifest } from '@codemate-txn/manifest';
import type * as Signing from '@codemate-txn/signing';
import type { Runtime } from './main.js';
import { printJson, reportError, say } from './output.js';

/** Loaded when a signing command runs. */
const signing = (): typeof Signing => require('@codemate-txn/signing') as typeof Signing;

export function signCommands(program: Command, rt: Runtime): void {
  program
    .command('keygen')
    .description('make an ed25519 key pair for signing manifests: <dir>/private.pem (0600) and <dir>/public.pem')
    .requiredOption('--out <dir>', 'directory for the two key files (made 0700 if missing)')
    .option('--force', 'replace an existing key pair (signatures made with it stop verifying)', false)
    .option('--json', 'print one JSON object on stdout', false)
    .option('--quiet', 'print nothing but errors', false)
    .action((o: Record<string, unknown>) => {
      const mode = { json: o.json === true, quiet: o.quiet === true };
      try {
        const r = signing().writeKeyPair(path.resolve(String(o.out)), { force: o.force === true });
        if (mode.json) printJson({ ok: true, ...r });
        else {
          say(mode, [
            `wrote an ed25519 key pair (key id ${r.keyId})`,
            `  private key ${r.privateKeyPath} (mode 0600): signs releases; keep it secret and off the machines that install them`,
            `  public key  ${r.publicKeyPath}: give it to \`codemate-txn apply --public-key\` (or CODEMATE_TXN_PUBLIC_KEY)`,
            `next: codemate-txn sign <manifest> --key ${r.privateKeyPath}`,
          ].join('\n'));
        }
      } catch (e: unknown) {
        rt.setExit(reportError(mode, e));
      }
    });

  program
    .command('sign <manifest>')
    .description("sign a manifest's exact bytes with an ed25519 private key; writes <manifest>.sig beside it")
    .requiredOption('--key <file>', 'the private key (private.pem from keygen)')
    .option('--json', 'print one JSON object on stdout', false)
    .option('--quiet', 'print nothing but errors', false)
    .action((manifest: string, o: Record<string, unknown>) => {
      const mode = { json: o.json === true, quiet: o.quiet === true };
      try {
        // A manifest that apply would refuse is not worth a signature: parse it first.
        const r = signing().signManifestFile(path.resolve(manifest), String(o.key), (bytes, location) => void parseManifest(bytes, location, { allowSpecialModes: true }));
        if (mode.json) printJson({ ok: true, ...r });
        else say(mode, `signed ${r.manifest} (${r.manifestBytes} bytes) with key ${r.keyId}: wrote ${r.signaturePath}\nnext: publish ${path.basename(r.signaturePath)} beside ${path.basename(r.manifest)}; any later change to the manifest needs a new signature`);
      } catch (e: unknown) {
        rt.setExit(reportError(mode, e));
      }
    });
}
