import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isTxnError, type TxnError } from '@codemate-txn/core';
import { createFetcher, loadManifest, openRelease, expiryOf, type Fetcher } from '@codemate-txn/fetch';
import { generateKeyPair, parsePrivateKey, parsePublicKey, signBytes } from '@codemate-txn/signing';
import { tempDir, makeRelease, cleanupTemps } from '@codemate-txn/testkit';
import { startReleaseServer, type ReleaseServer } from './helpers/release-server.js';

let root: string;
let srv: ReleaseServer;
let fetcher: Fetcher;
const keyA = generateKeyPair();
const keyB = generateKeyPair();
const pubA = parsePublicKey(keyA.publicKeyPem, 'a');

async function failure(p: Promise<unknown>): Promise<TxnError> {
  try {
    await p;
  } catch (e: unknown) {
    if (isTxnError(e)) return e;
    throw e;
  }
  throw new Error('expected a TxnError, the call succeeded');
}

function signFile(manifest: string, pem = keyA.privateKeyPem): void {
  fs.writeFileSync(`${manifest}.sig`, signBytes(fs.readFileSync(manifest), parsePrivateKey(pem, 'k')));
}

test.before(async () => {
  root = tempDir();
  for (const v of ['1.0.0', '1.1.0', '2.0.0']) {
    await makeRelease(path.join(root, v), { app: 'demo', version: v, tree: { 'a.txt': `a ${v}\n` } });
  }
  signFile(path.join(root, '1.0.0', 'manifest.json'));
  fs.writeFileSync(
    path.join(root, 'feed.json'),
    JSON.stringify({ schemaVersion: 1, app: 'demo', releases: ['1.0.0', '1.1.0', '2.0.0'].map((v) => ({ version: v, manifest: `${v}/manifest.json` })) }),
  );
  srv = await startReleaseServer(root);
  fetcher = createFetcher({ timeoutMs: 500, retryDelayMs: 1, retries: 1 });
});
test.before.each(() => srv.reset());
test.after(async () => {
  fetcher.close();
  await srv.close();
  cleanupTemps();
});

test('a manifest by URL: its source resolves against the URL, its bytes are the served ones', async () => {
  const l = await loadManifest(srv.url('/1.0.0/manifest.json'), { fetcher });
  assert.is(l.location, srv.url('/1.0.0/manifest.json'));
  assert.is(l.sourceBase, srv.url('/1.0.0/files/'));
  assert.ok(l.bytes.equals(fs.readFileSync(path.join(root, '1.0.0', 'manifest.json'))));
  assert.is(l.signedBy, null);
  assert.is(srv.hits('/1.0.0/manifest.json.sig'), 0, 'no key configured: the signature is not fetched');
});

test('a manifest URL that 404s: E_MANIFEST_READ (exit 2)', async () => {
  const e = await failure(loadManifest(srv.url('/9.9.9/manifest.json'), { fetcher }));
  assert.is(e.code, 'E_MANIFEST_READ');
  assert.match(e.message, 'HTTP 404');
});

test('signature over HTTP: good → key id; none, tampered, other key → E_SIGNATURE', async () => {
  const good = await loadManifest(srv.url('/1.0.0/manifest.json'), { fetcher, publicKey: pubA });
  assert.is(good.signedBy, keyA.keyId);
  assert.is(srv.hits('/1.0.0/manifest.json.sig'), 1);

  const none = await failure(loadManifest(srv.url('/1.1.0/manifest.json'), { fetcher, publicKey: pubA }));
  assert.is(none.code, 'E_SIGNATURE');
  assert.match(none.message, `is not signed: expected a signature by key ${keyA.keyId} at ${srv.url('/1.1.0/manifest.json.sig')}`);

  const orig = fs.readFileSync(path.join(root, '1.0.0', 'manifest.json'));
  srv.put('/1.0.0/manifest.json', Buffer.from(orig.toString().replace('"1.0.0"', '"1.0.1"')));
  const tampered = await failure(loadManifest(srv.url('/1.0.0/manifest.json'), { fetcher, publicKey: pubA }));
  assert.match(tampered.message, "does not match the manifest's bytes");
  srv.put('/1.0.0/manifest.json', orig);

  srv.put('/1.0.0/manifest.json.sig', signBytes(orig, parsePrivateKey(keyB.privateKeyPem, 'b')));
  const other = await failure(loadManifest(srv.url('/1.0.0/manifest.json'), { fetcher, publicKey: pubA }));
  assert.match(other.message, `signed by another key: expected key ${keyA.keyId}, found a signature by key ${keyB.keyId}`);
  srv.put('/1.0.0/manifest.json.sig', fs.readFileSync(path.join(root, '1.0.0', 'manifest.json.sig')));
});

test('the signature is checked before the bytes are parsed: unsigned garbage is E_SIGNATURE, not E_MANIFEST_JSON', async () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'm.json'), '{ not json');
  assert.is((await failure(loadManifest(path.join(dir, 'm.json'), { publicKey: pubA }))).code, 'E_SIGNATURE');
  assert.is((await failure(loadManifest(path.join(dir, 'm.json'), {}))).code, 'E_MANIFEST_JSON');
});

test('expires: a past date-time or date is E_MANIFEST_EXPIRED; a bare date lasts through its day (UTC)', async () => {
  const dir = tempDir();
  const m = await makeRelease(dir, { app: 'demo', version: '1.0.0', tree: { 'a.txt': 'a' }, edit: (x) => void (x.expires = '2030-01-31') });
  const at = (iso: string) => ({ now: () => new Date(iso) });
  await loadManifest(m, at('2030-01-31T23:59:59Z'));
  const e = await failure(loadManifest(m, at('2030-02-01T00:00:00Z')));
  assert.is(e.code, 'E_MANIFEST_EXPIRED');
  assert.is(e.exitCode, 2);
  assert.match(e.message, 'expired at 2030-02-01T00:00:00.000Z ("expires": "2030-01-31")');
  assert.is(expiryOf('2030-01-31T12:00:00Z').toISOString(), '2030-01-31T12:00:00.000Z');
});

test('a remote manifest may not name local bytes (file: source or url)', async () => {
  srv.put('/evil/manifest.json', JSON.stringify({ schemaVersion: 1, app: 'demo', version: '1.0.0', source: 'file:///etc', files: [{ path: 'passwd', size: 1, sha256: '0'.repeat(64) }] }));
  const e = await failure(loadManifest(srv.url('/evil/manifest.json'), { fetcher }));
  assert.is(e.code, 'E_MANIFEST_SCHEMA');
  assert.match(e.message, 'a manifest fetched over HTTP');
});

test('openRelease with a feed over HTTP: picks, loads and cross-checks the manifest', async () => {
  const r = await openRelease({ feed: srv.url('/feed.json'), fetcher, installedVersion: () => '1.0.0' });
  assert.is(r.upToDate, false);
  if (r.upToDate) return;
  assert.is(r.loaded.manifest.version, '2.0.0');
  assert.is(r.feed?.release.manifestLocation, srv.url('/2.0.0/manifest.json'));
  const pinned = await openRelease({ feed: srv.url('/feed.json'), to: '1.1.0', fetcher });
  assert.is(!pinned.upToDate && pinned.loaded.manifest.version, '1.1.0');
  const newer = await openRelease({ feed: srv.url('/feed.json'), fetcher, installedVersion: () => '3.0.0' });
  assert.ok(newer.upToDate);
  assert.is(srv.hits('/2.0.0/manifest.json'), 1, 'up to date: the manifest was not fetched again');
});

test('openRelease: a feed whose manifest is another version is refused', async () => {
  srv.put('/bad-feed.json', JSON.stringify({ schemaVersion: 1, app: 'demo', releases: [{ version: '1.5.0', manifest: '1.0.0/manifest.json' }] }));
  const e = await failure(openRelease({ feed: srv.url('/bad-feed.json'), fetcher }));
  assert.is(e.code, 'E_MANIFEST_SCHEMA');
  assert.match(e.message, 'lists demo 1.5.0');
  assert.match(e.message, 'but that manifest is demo 1.0.0');
});

test('openRelease: exactly one of manifest and feed; --to only with a feed', async () => {
  assert.is((await failure(openRelease({}))).code, 'E_USAGE');
  assert.is((await failure(openRelease({ manifest: 'a', feed: 'b' }))).code, 'E_USAGE');
  assert.is((await failure(openRelease({ manifest: 'a', to: '1.0.0' }))).code, 'E_USAGE');
});

test.run();
