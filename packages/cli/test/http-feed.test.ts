/**
 * `apply --feed URL [--to VERSION|latest] [--channel NAME]` against feeds served from 127.0.0.1
 * listing 1.0.0, 1.1.0, 2.0.0-beta.1 and (in one of them) 2.0.0.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { apply, defaultContext } from '@codemate-txn/engine';
import { loadManifestFile } from '@codemate-txn/manifest';
import { tempDir, makeRelease, cleanupTemps } from '@codemate-txn/testkit';
import { startReleaseServer, type ReleaseServer } from '../../fetch/test/helpers/release-server.js';
import { cli } from './http-helpers.js';

const VERSIONS = ['1.0.0', '1.1.0', '2.0.0-beta.1', '2.0.0'];
let root: string;
let srv: ReleaseServer;

const release = (v: string, extra: object = {}) => ({ version: v, manifest: `releases/${v}/manifest.json`, ...extra });

test.before(async () => {
  root = tempDir();
  for (const v of VERSIONS) await makeRelease(path.join(root, 'releases', v), { app: 'demo', version: v, tree: { 'version.txt': `${v}\n`, 'common.txt': 'same\n' } });
  const feed = (name: string, releases: object[]) => fs.writeFileSync(path.join(root, name), JSON.stringify({ schemaVersion: 1, app: 'demo', releases }, null, 2));
  feed('feed.json', VERSIONS.map((v) => release(v)));
  feed('feed-before-2.json', VERSIONS.filter((v) => v !== '2.0.0').map((v) => release(v)));
  feed('feed-min.json', ['1.0.0', '1.1.0'].map((v) => release(v)).concat([release('2.0.0', { minimumFromVersion: '1.1.0' })]));
  srv = await startReleaseServer(root);
});
test.after(async () => {
  await srv.close();
  cleanupTemps();
});

const installedVersion = (target: string) => fs.readFileSync(path.join(target, '.codemate-version'), 'utf8').trim();

async function applyFeed(feed: string, args: string[], target = path.join(tempDir(), 'app')) {
  const r = await cli(['apply', '--feed', srv.url(`/${feed}`), '--target', target, '--json', ...args]);
  const out = r.stdout.trim() === '' ? {} : (JSON.parse(r.stdout) as Record<string, unknown>);
  return { ...r, target, out };
}

test('--to latest picks 2.0.0; --channel beta before 2.0.0 exists picks the beta; --to 1.1.0 picks 1.1.0', async () => {
  const [latest, beta, pinned, stableOnly, betaAfter] = await Promise.all([
    applyFeed('feed.json', ['--to', 'latest']),
    applyFeed('feed-before-2.json', ['--channel', 'beta']),
    applyFeed('feed.json', ['--to', '1.1.0']),
    applyFeed('feed-before-2.json', []),
    applyFeed('feed.json', ['--channel', 'beta']),
  ]);
  for (const [r, want] of [[latest, '2.0.0'], [beta, '2.0.0-beta.1'], [pinned, '1.1.0'], [stableOnly, '1.1.0'], [betaAfter, '2.0.0']] as const) {
    assert.is(r.code, 0, r.stderr);
    assert.is(installedVersion(r.target), want);
    assert.is((r.out.feed as { release: { version: string } }).release.version, want);
    assert.is(fs.readFileSync(path.join(r.target, 'version.txt'), 'utf8'), `${want}\n`);
  }
});

test('minimumFromVersion: from 1.0.0, latest is 1.1.0 (2.0.0 skipped, said why); --to 2.0.0 refused with the step to take', async () => {
  const target = path.join(tempDir(), 'app');
  await apply(await loadManifestFile(path.join(root, 'releases', '1.0.0', 'manifest.json'), root), { target }, defaultContext({}));
  const step = await cli(['apply', '--feed', srv.url('/feed-min.json'), '--target', target]);
  assert.is(step.code, 0, step.stderr);
  assert.match(step.stdout, 'updated demo 1.0.0 → 1.1.0');
  assert.match(step.stdout, 'skipped 2.0.0: it updates only from 1.1.0 or later and 1.0.0 is installed');
  const again = await cli(['apply', '--feed', srv.url('/feed-min.json'), '--target', target, '--quiet']);
  assert.is(again.code, 0, again.stderr);
  assert.is(installedVersion(target), '2.0.0');

  const fresh = path.join(tempDir(), 'app');
  await apply(await loadManifestFile(path.join(root, 'releases', '1.0.0', 'manifest.json'), root), { target: fresh }, defaultContext({}));
  const refused = await cli(['apply', '--feed', srv.url('/feed-min.json'), '--to', '2.0.0', '--target', fresh]);
  assert.is(refused.code, 2);
  assert.match(refused.stderr, 'cannot update to 2.0.0: it updates only from 1.1.0 or later and 1.0.0 is installed');
  assert.match(refused.stderr, 'update to 1.1.0 first (--to 1.1.0)');
  assert.is(installedVersion(fresh), '1.0.0');
});

test('nothing newer in the feed: exit 0, nothing to do; an unlisted --to and --to without --feed are usage errors', async () => {
  const target = path.join(tempDir(), 'app');
  await apply(await loadManifestFile(path.join(root, 'releases', '2.0.0', 'manifest.json'), root), { target }, defaultContext({}));
  srv.reset();
  const [none, unlisted, stray] = await Promise.all([
    cli(['apply', '--feed', srv.url('/feed-before-2.json'), '--target', target]),
    cli(['apply', '--feed', srv.url('/feed.json'), '--to', '3.0.0', '--target', target]),
    cli(['apply', srv.url('/releases/1.0.0/manifest.json'), '--to', '1.0.0', '--target', target]),
  ]);
  assert.is(none.code, 0, none.stderr);
  assert.match(none.stdout, '2.0.0 is installed');
  assert.match(none.stdout, 'nothing to do');
  assert.is(unlisted.code, 2);
  assert.match(unlisted.stderr, 'version 3.0.0 is not listed');
  assert.is(stray.code, 2);
  assert.match(stray.stderr, '--to and --channel choose a release from a feed');
  assert.is(srv.requests.filter((q) => q.path.includes('/files/')).length, 0);
});

test.run();
