/**
 * Signed manifests through the CLI: `keygen`, `sign`, and the signature matrix of issue 4 (good,
 * none, tampered manifest, tampered signature, other key, expired) for a manifest served over
 * HTTP with --public-key (and CODEMATE_TXN_PUBLIC_KEY). A refused manifest is refused before
 * anything else: exit 2, no release file requested, no journal, no target.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { signManifestFile, writeKeyPair } from '@codemate-txn/signing';
import { tempDir, makeRelease, snapshotTree, cleanupTemps } from '@codemate-txn/testkit';
import { startReleaseServer, type ReleaseServer } from '../../fetch/test/helpers/release-server.js';
import { cli } from './http-helpers.js';

let root: string;
let keys: string;
let otherKeys: string;
let srv: ReleaseServer;

const TREE = { 'bin/run': { content: '#!/bin/sh\necho hi\n', mode: 0o755 }, 'lib/a.js': 'a\n', 'README.md': 'readme\n' };

function sig(dir: string, name: string): string {
  return path.join(root, dir, `${name}`);
}

test.before(async () => {
  root = tempDir();
  keys = path.join(root, 'keys');
  otherKeys = path.join(root, 'other-keys');
  const k1 = await cli(['keygen', '--out', keys]);
  assert.is(k1.code, 0, k1.stderr);
  assert.match(k1.stdout, /wrote an ed25519 key pair \(key id [0-9a-f]{16}\)/);
  writeKeyPair(otherKeys);
  for (const c of ['good', 'none', 'tampered', 'badsig', 'other', 'expired']) {
    await makeRelease(path.join(root, 'srv', c), {
      app: 'demo',
      version: '1.0.0',
      tree: TREE,
      ...(c === 'expired' ? { edit: (m) => void (m.expires = '2001-01-01') } : {}),
    });
  }
  // The CLI signs one (its own test below); the library signs the rest, faster.
  const signed = await cli(['sign', path.join(root, 'srv', 'good', 'manifest.json'), '--key', path.join(keys, 'private.pem')]);
  assert.is(signed.code, 0, signed.stderr);
  assert.match(signed.stdout, 'wrote ' + path.join(root, 'srv', 'good', 'manifest.json.sig'));
  for (const c of ['tampered', 'badsig', 'expired']) signManifestFile(path.join(root, 'srv', c, 'manifest.json'), path.join(keys, 'private.pem'));
  signManifestFile(path.join(root, 'srv', 'other', 'manifest.json'), path.join(otherKeys, 'private.pem'));
  // After signing: one byte of the manifest changes (still valid JSON), one bit of a signature flips.
  const tm = sig('srv/tampered', 'manifest.json');
  fs.writeFileSync(tm, fs.readFileSync(tm, 'utf8').replace('"app": "demo"', '"app": "dema"'));
  const bs = sig('srv/badsig', 'manifest.json.sig');
  const [alg, id, b64] = fs.readFileSync(bs, 'utf8').trim().split(' ');
  const raw = Buffer.from(b64!, 'base64');
  raw[10] = raw[10]! ^ 0x01;
  fs.writeFileSync(bs, `${alg} ${id} ${raw.toString('base64')}\n`);
  srv = await startReleaseServer(path.join(root, 'srv'));
});
test.after(async () => {
  await srv.close();
  cleanupTemps();
});

test('keygen: private 0600, public 0644, key id printed; refuses to overwrite (exit 2)', async () => {
  assert.is(fs.statSync(path.join(keys, 'private.pem')).mode & 0o777, 0o600);
  assert.is(fs.statSync(path.join(keys, 'public.pem')).mode & 0o777, 0o644);
  const again = await cli(['keygen', '--out', keys]);
  assert.is(again.code, 2);
  assert.match(again.stderr, 'refusing to overwrite');
  const json = await cli(['keygen', '--out', path.join(root, 'k3'), '--json']);
  const j = JSON.parse(json.stdout) as { ok: boolean; keyId: string; privateKeyPath: string };
  assert.ok(j.ok);
  assert.match(j.keyId, /^[0-9a-f]{16}$/);
});

test('sign: writes <manifest>.sig naming the key; refuses an invalid manifest and a missing --key (exit 2)', async () => {
  const s = fs.readFileSync(sig('srv/good', 'manifest.json.sig'), 'utf8');
  assert.match(s, /^ed25519 [0-9a-f]{16} [A-Za-z0-9+/]{86}==\n$/);
  const bad = path.join(root, 'bad.json');
  fs.writeFileSync(bad, '{"schemaVersion":1}');
  const [r1, r2] = await Promise.all([cli(['sign', bad, '--key', path.join(keys, 'private.pem')]), cli(['sign', bad])]);
  assert.is(r1.code, 2);
  assert.match(r1.stderr, 'E_MANIFEST_SCHEMA');
  assert.not.ok(fs.existsSync(`${bad}.sig`));
  assert.is(r2.code, 2);
  assert.match(r2.stderr, "required option '--key <file>' not specified");
});

const MATRIX = [
  { c: 'good', code: 0, says: ['installed demo 1.0.0', 'manifest signature verified (key '] },
  { c: 'none', code: 2, says: ['error E_SIGNATURE', 'is not signed', 'manifest.json.sig, found none'] },
  { c: 'tampered', code: 2, says: ['error E_SIGNATURE', "does not match the manifest's bytes"] },
  { c: 'badsig', code: 2, says: ['error E_SIGNATURE', "does not match the manifest's bytes"] },
  { c: 'other', code: 2, says: ['error E_SIGNATURE', 'is signed by another key'] },
  { c: 'expired', code: 2, says: ['error E_MANIFEST_EXPIRED', 'expired at 2001-01-02T00:00:00.000Z'] },
];

test('signature matrix over HTTP with --public-key: good installs; none, tampered, bad sig, other key, expired → exit 2 before any download', async () => {
  await Promise.all(
    MATRIX.map(async (m) => {
      const parent = tempDir();
      const target = path.join(parent, 'app');
      const r = await cli(['apply', srv.url(`/${m.c}/manifest.json`), '--target', target, '--public-key', path.join(keys, 'public.pem')]);
      assert.is(r.code, m.code, `${m.c}: ${r.stderr}`);
      for (const s of m.says) assert.ok((r.stdout + r.stderr).includes(s), `${m.c}: expected "${s}" in:\n${r.stdout}${r.stderr}`);
      const fileRequests = srv.requests.filter((q) => q.path.startsWith(`/${m.c}/files/`)).length;
      if (m.code === 0) {
        assert.is(fileRequests, 3);
        assert.equal(snapshotTree(target, { exclude: (p) => p === '.codemate-version' }), snapshotTree(path.join(root, 'srv', m.c, 'files')));
      } else {
        assert.is(fileRequests, 0, `${m.c}: no release file may be requested`);
        assert.equal(fs.readdirSync(parent), [], `${m.c}: no target, no journal`);
      }
    }),
  );
});

test('CODEMATE_TXN_PUBLIC_KEY (a path, or the PEM itself) works like --public-key', async () => {
  const pem = fs.readFileSync(path.join(keys, 'public.pem'), 'utf8');
  const [byPath, byPem, unsigned] = await Promise.all([
    cli(['apply', srv.url('/good/manifest.json'), '--target', path.join(tempDir(), 'app'), '--quiet'], { CODEMATE_TXN_PUBLIC_KEY: path.join(keys, 'public.pem') }),
    cli(['apply', srv.url('/good/manifest.json'), '--target', path.join(tempDir(), 'app'), '--quiet'], { CODEMATE_TXN_PUBLIC_KEY: pem }),
    cli(['apply', srv.url('/none/manifest.json'), '--target', path.join(tempDir(), 'app'), '--json'], { CODEMATE_TXN_PUBLIC_KEY: pem }),
  ]);
  assert.is(byPath.code, 0, byPath.stderr);
  assert.is(byPem.code, 0, byPem.stderr);
  assert.is(unsigned.code, 2);
  assert.is((JSON.parse(unsigned.stdout) as { error: { code: string } }).error.code, 'E_SIGNATURE');
});

test('a local signed manifest verifies too; an unreadable --public-key is exit 2 (E_USAGE)', async () => {
  const [local, missing] = await Promise.all([
    cli(['apply', path.join(root, 'srv', 'good', 'manifest.json'), '--target', path.join(tempDir(), 'app'), '--public-key', path.join(keys, 'public.pem'), '--quiet']),
    cli(['apply', path.join(root, 'srv', 'good', 'manifest.json'), '--target', path.join(tempDir(), 'app'), '--public-key', path.join(root, 'nope.pem')]),
  ]);
  assert.is(local.code, 0, local.stderr);
  assert.is(missing.code, 2);
  assert.match(missing.stderr, 'error E_USAGE');
  assert.match(missing.stderr, 'nope.pem');
});

test.run();
