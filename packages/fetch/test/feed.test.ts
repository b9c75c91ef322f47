import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isTxnError, type TxnError } from '@codemate-txn/core';
import { parseFeed, selectRelease, type Feed } from '@codemate-txn/fetch';

function feedOf(releases: object[], location = 'https://releases.example/demo/feed.json'): Feed {
  return parseFeed(Buffer.from(JSON.stringify({ schemaVersion: 1, app: 'demo', releases })), location);
}

function thrown(fn: () => unknown): TxnError {
  try {
    fn();
  } catch (e: unknown) {
    if (isTxnError(e)) return e;
    throw e;
  }
  throw new Error('expected a TxnError');
}

const rel = (version: string, extra: object = {}) => ({ version, manifest: `${version}/manifest.json`, ...extra });
const FOUR = [rel('1.0.0'), rel('1.1.0'), rel('2.0.0-beta.1'), rel('2.0.0')];
const pick = (f: Feed, to: string, channel?: string, installed: string | null = null) =>
  selectRelease(f, { to, installed, ...(channel ? { channel } : {}) }).release.version;

test('--to latest picks the highest stable version by semver (not feed order)', () => {
  assert.is(pick(feedOf(FOUR), 'latest'), '2.0.0');
  assert.is(pick(feedOf([rel('1.10.0'), rel('1.9.0'), rel('1.2.0')]), 'latest'), '1.10.0');
});

test('prereleases only on their channel: before 2.0.0 exists, beta picks the beta, stable picks 1.1.0', () => {
  const f = feedOf(FOUR.filter((r) => r.version !== '2.0.0'));
  assert.is(pick(f, 'latest'), '1.1.0');
  assert.is(pick(f, 'latest', 'beta'), '2.0.0-beta.1');
  assert.is(pick(f, 'latest', 'alpha'), '1.1.0', 'another channel does not see beta');
  assert.is(pick(feedOf(FOUR), 'latest', 'beta'), '2.0.0', 'the release outranks its beta');
});

test('an explicit channel overrides the one derived from the version', () => {
  const f = feedOf([rel('1.0.0'), rel('1.1.0', { channel: 'beta' }), rel('1.2.0-rc.1', { channel: 'beta' })]);
  assert.is(f.releases[2]!.channel, 'beta');
  assert.is(pick(f, 'latest'), '1.0.0');
  assert.is(pick(f, 'latest', 'beta'), '1.2.0-rc.1');
});

test('--to an exact version picks it (whatever its channel); an unlisted one is refused', () => {
  assert.is(pick(feedOf(FOUR), '1.1.0'), '1.1.0');
  assert.is(pick(feedOf(FOUR), '2.0.0-beta.1'), '2.0.0-beta.1');
  const e = thrown(() => pick(feedOf(FOUR), '3.0.0'));
  assert.is(e.code, 'E_USAGE');
  assert.match(e.message, 'version 3.0.0 is not listed; expected one of 1.0.0, 1.1.0, 2.0.0-beta.1, 2.0.0');
  assert.is(thrown(() => pick(feedOf(FOUR), 'v2')).code, 'E_VERSION_INVALID');
});

test('minimumFromVersion: latest steps through the allowed release; --to refuses with the step to take', () => {
  const f = feedOf([rel('1.0.0'), rel('1.1.0'), rel('2.0.0', { minimumFromVersion: '1.1.0' })]);
  assert.is(pick(f, 'latest', undefined, null), '2.0.0', 'a fresh install may start anywhere');
  assert.is(pick(f, 'latest', undefined, '1.1.0'), '2.0.0');
  const sel = selectRelease(f, { to: 'latest', installed: '1.0.0' });
  assert.is(sel.release.version, '1.1.0');
  assert.equal(sel.skipped, [{ version: '2.0.0', reason: 'it updates only from 1.1.0 or later and 1.0.0 is installed' }]);
  const e = thrown(() => pick(f, '2.0.0', undefined, '1.0.0'));
  assert.is(e.code, 'E_USAGE');
  assert.match(e.message, 'cannot update to 2.0.0: it updates only from 1.1.0 or later and 1.0.0 is installed');
  assert.match(e.hint!, 'update to 1.1.0 first (--to 1.1.0)');
});

test('nothing eligible: E_USAGE saying why', () => {
  const e = thrown(() => pick(feedOf([rel('2.0.0-beta.1')]), 'latest'));
  assert.is(e.code, 'E_USAGE');
  assert.match(e.message, 'no release is offered on channel "stable"');
  assert.match(e.hint!, '--channel');
});

test('manifest references resolve against the feed URL (or path); absolute URLs stay', () => {
  const f = feedOf([rel('1.0.0'), { version: '1.1.0', manifest: 'https://cdn.example/m.json' }]);
  assert.is(f.releases[0]!.manifestLocation, 'https://releases.example/demo/1.0.0/manifest.json');
  assert.is(f.releases[1]!.manifestLocation, 'https://cdn.example/m.json');
  assert.is(feedOf([rel('1.0.0')], '/srv/feed/feed.json').releases[0]!.manifestLocation, '/srv/feed/1.0.0/manifest.json');
});

test('bad feeds: schema (naming the field), semver, duplicates, JSON', () => {
  const noManifest = thrown(() => feedOf([{ version: '1.0.0' }]));
  assert.is(noManifest.code, 'E_MANIFEST_SCHEMA');
  assert.match(noManifest.message, "releases[0] must have required property 'manifest'");
  assert.is(thrown(() => feedOf([rel('1.0')])).code, 'E_VERSION_INVALID');
  assert.is(thrown(() => feedOf([rel('v1.0.0')])).code, 'E_VERSION_INVALID');
  assert.is(thrown(() => feedOf([rel('1.0.0', { minimumFromVersion: 'one' })])).code, 'E_VERSION_INVALID');
  assert.match(thrown(() => feedOf([rel('1.0.0'), rel('1.0.0')])).message, 'listed twice');
  assert.is(thrown(() => parseFeed(Buffer.from('{'), 'f.json')).code, 'E_MANIFEST_JSON');
  assert.is(thrown(() => parseFeed(Buffer.from('{"schemaVersion":1,"app":"x","releases":[],"extra":1}'), 'f.json')).code, 'E_MANIFEST_SCHEMA');
});

test.run();
