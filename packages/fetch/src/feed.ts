/**
 * Release feeds (schema/feed.schema.json): a small JSON document listing an app's versions and
 * their manifests, like Sparkle's appcast or Squirrel's RELEASES. Reading one is I/O
 * (loadFeed); choosing the release is pure (selectRelease), so it is tested on data alone.
 *
 * Choice rules:
 *   - `to: 'latest'`: the highest version by semver among the eligible releases;
 *   - `to: '<version>'`: exactly that version, which must be listed (any channel: it was asked for);
 *   - eligible: offered on the channel (a `stable` release is offered on every channel; a
 *     prerelease belongs to the channel named by its first identifier, e.g. 2.0.0-beta.1 → beta,
 *     unless `channel` says otherwise) and, when something is installed, not requiring a newer
 *     starting point (`minimumFromVersion` ≤ installed version).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ValidateFunction } from 'ajv';
import feedValidator from './feed-validator.generated.js';
import semver from 'semver';
import { TxnError } from '@codemate-txn/core';
import type { Fetcher } from './fetcher.js';
import { localPath, readCapped } from './load-manifest.js';
import { isHttpUrl } from './source-url.js';

export const FEED_SCHEMA_PATH = path.join(__dirname, '..', 'schema', 'feed.schema.json');
export const FEED_SCHEMA: object = JSON.parse(fs.readFileSync(FEED_SCHEMA_PATH, 'utf8')) as object;
export const FEED_MAX_BYTES = 16 * 1024 * 1024;
export const STABLE = 'stable';

export interface FeedRelease {
  version: string;
  /** As written in the feed. */
  manifest: string;
  /** Absolute: a URL or a local path (relative entries resolved against the feed's location). */
  manifestLocation: string;
  /** The channel the release is offered on (explicit or derived). */
  channel: string;
  minimumFromVersion?: string;
  published?: string;
  notes?: string;
}

export interface Feed {
  app: string;
  location: string;
  releases: FeedRelease[];
}

export interface SelectOptions {
  /** 'latest' or an exact version. */
  to: string;
  /** Default 'stable'. */
  channel?: string;
  /** The installed version, or null for a fresh install. */
  installed: string | null;
}

export interface Selection {
  release: FeedRelease;
  /** Eligible releases newer than what is installed but skipped, with why (for messages). */
  skipped: Array<{ version: string; reason: string }>;
}

/** Compiled from schema/feed.schema.json at build time (scripts/gen-validators.mjs). */
function validator(): ValidateFunction {
  return feedValidator as unknown as ValidateFunction;
}

function isStrictSemver(v: string): boolean {
  // semver itself forgives "v1.2.3" and "=1.2.3"; a feed must spell versions as manifests do.
  return /^\d/.test(v) && semver.valid(v) !== null;
}

function channelOf(version: string, explicit: string | undefined): string {
  if (explicit !== undefined) return explicit;
  const pre = semver.prerelease(version);
  if (pre === null) return STABLE;
  const first = pre[0];
  return typeof first === 'string' ? first.toLowerCase() : 'prerelease';
}

function feedError(location: string, what: string, hint = 'fix the feed so it matches schema/feed.schema.json', details: Record<string, unknown> = {}): TxnError {
  return new TxnError('E_MANIFEST_SCHEMA', `feed ${location}: ${what}`, { hint, details: { feed: location, ...details } });
}

/** Bytes → a checked Feed. Pure. */
export function parseFeed(bytes: Buffer, location: string): Feed {
  if (bytes.length > FEED_MAX_BYTES) {
    throw new TxnError('E_MANIFEST_LIMIT', `feed ${location}: a feed may be at most ${FEED_MAX_BYTES} bytes, found more`, { details: { feed: location } });
  }
  let data: unknown;
  try {
    data = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e: unknown) {
    throw new TxnError('E_MANIFEST_JSON', `feed ${location}: a feed must be UTF-8 JSON, found ${e instanceof SyntaxError ? `a syntax error (${e.message.replace(/\s+/g, ' ').slice(0, 160)})` : 'invalid UTF-8'}`, {
      hint: 'fix the feed JSON',
      cause: e,
      details: { feed: location },
    });
  }
  const validate = validator();
  if (!validate(data)) {
    const err = validate.errors?.[0];
    const where = err?.instancePath ? err.instancePath.slice(1).replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.') : 'the top level';
    throw feedError(location, `${where} ${err?.message ?? 'does not match the schema'}`, undefined, { field: where, rule: err?.keyword });
  }
  const raw = data as { app: string; releases: Array<Omit<FeedRelease, 'manifestLocation' | 'channel'> & { channel?: string }> };
  const seen = new Set<string>();
  const releases = raw.releases.map((r, i): FeedRelease => {
    for (const [field, v] of [['version', r.version], ['minimumFromVersion', r.minimumFromVersion]] as const) {
      if (v !== undefined && !isStrictSemver(v)) {
        throw new TxnError('E_VERSION_INVALID', `feed ${location}: releases[${i}].${field} must be a semantic version such as 1.2.3, found ${JSON.stringify(v)}`, {
          hint: 'fix the feed',
          details: { feed: location, index: i, field, found: v },
        });
      }
    }
    const key = semver.parse(r.version)!.version;
    if (seen.has(key)) throw feedError(location, `releases[${i}]: version ${r.version} is listed twice`, undefined, { index: i });
    seen.add(key);
    const out: FeedRelease = { version: r.version, manifest: r.manifest, manifestLocation: resolveAgainst(r.manifest, location), channel: channelOf(r.version, r.channel) };
    if (r.minimumFromVersion !== undefined) out.minimumFromVersion = r.minimumFromVersion;
    if (r.published !== undefined) out.published = r.published;
    if (r.notes !== undefined) out.notes = r.notes;
    return out;
  });
  return { app: raw.app, location, releases };
}

/** A manifest reference resolved against the feed's location (URL or local path). */
function resolveAgainst(ref: string, feedLocation: string): string {
  if (isHttpUrl(ref) || /^file:/i.test(ref)) return ref;
  if (isHttpUrl(feedLocation)) return new URL(ref, feedLocation).href;
  return path.resolve(path.dirname(feedLocation), ref);
}

/** Picks the release to apply (see the module comment). Pure; throws E_USAGE when none fits. */
export function selectRelease(feed: Feed, opts: SelectOptions): Selection {
  const channel = opts.channel ?? STABLE;
  const installed = opts.installed;
  const fromOk = (r: FeedRelease): boolean => installed === null || r.minimumFromVersion === undefined || semver.gte(installed, r.minimumFromVersion);
  const needs = (r: FeedRelease): string => `it updates only from ${r.minimumFromVersion} or later and ${installed} is installed`;

  if (opts.to !== 'latest') {
    if (!isStrictSemver(opts.to)) {
      throw new TxnError('E_VERSION_INVALID', `--to must be "latest" or a semantic version such as 1.2.3, found ${JSON.stringify(opts.to)}`, { details: { found: opts.to } });
    }
    const r = feed.releases.find((x) => semver.eq(x.version, opts.to));
    if (r === undefined) {
      throw new TxnError('E_USAGE', `feed ${feed.location}: version ${opts.to} is not listed; expected one of ${listVersions(feed.releases)}`, {
        hint: 'pick a listed version, or --to latest',
        details: { feed: feed.location, to: opts.to },
      });
    }
    if (!fromOk(r)) {
      const step = best(feed.releases.filter((x) => x.channel === STABLE || x.channel === channel).filter(fromOk).filter((x) => semver.lt(x.version, r.version)));
      throw new TxnError('E_USAGE', `feed ${feed.location}: cannot update to ${r.version}: ${needs(r)}`, {
        hint: step ? `update to ${step.version} first (--to ${step.version}), then to ${r.version}` : `install a version ≥ ${r.minimumFromVersion} first`,
        details: { feed: feed.location, to: r.version, installed, minimumFromVersion: r.minimumFromVersion },
      });
    }
    return { release: r, skipped: [] };
  }

  const onChannel = feed.releases.filter((r) => r.channel === STABLE || r.channel === channel);
  const eligible = onChannel.filter(fromOk);
  const pick = best(eligible);
  if (pick === undefined) {
    const why = onChannel.length === 0
      ? `no release is offered on channel "${channel}" (listed: ${listVersions(feed.releases)})`
      : `every release on channel "${channel}" needs a newer installation: ${onChannel.map((r) => `${r.version} (${needs(r)})`).join(', ')}`;
    throw new TxnError('E_USAGE', `feed ${feed.location}: nothing to apply: ${why}`, {
      hint: channel === STABLE ? 'prereleases are offered only with --channel <name> (e.g. --channel beta)' : 'check the feed and --channel',
      details: { feed: feed.location, channel },
    });
  }
  const skipped = onChannel
    .filter((r) => !fromOk(r) && semver.gt(r.version, pick.version))
    .map((r) => ({ version: r.version, reason: needs(r) }));
  return { release: pick, skipped };
}

function best(rs: FeedRelease[]): FeedRelease | undefined {
  return rs.reduce<FeedRelease | undefined>((a, r) => (a === undefined || semver.gt(r.version, a.version) ? r : a), undefined);
}

function listVersions(rs: FeedRelease[]): string {
  return rs.length === 0 ? '(none)' : [...rs].sort((a, b) => semver.compare(a.version, b.version)).map((r) => r.version).join(', ');
}

/** Reads and parses a feed from a path, a file: URL or an http(s) URL. */
export async function loadFeed(arg: string, opts: { cwd?: string; fetcher?: Fetcher } = {}): Promise<Feed> {
  if (isHttpUrl(arg)) {
    if (opts.fetcher === undefined) throw new TxnError('E_INTERNAL', `loading feed ${arg} needs a fetcher; none was given`);
    const doc = await opts.fetcher.getBytes(arg, { maxBytes: FEED_MAX_BYTES, label: 'feed', clientErrorCode: 'E_MANIFEST_READ' });
    return parseFeed(doc.bytes, doc.url);
  }
  const location = localPath(arg, opts.cwd ?? process.cwd());
  return parseFeed(await readCapped(location, FEED_MAX_BYTES, 'feed', 'E_MANIFEST_READ'), location);
}

/** The manifest a feed pointed at must be that release of that app. */
export function checkFeedManifest(feed: Feed, release: FeedRelease, manifest: { app: string; version: string }, location: string): void {
  if (manifest.app !== feed.app || !semver.eq(manifest.version, release.version) || manifest.version !== release.version) {
    throw new TxnError('E_MANIFEST_SCHEMA', `feed ${feed.location} lists ${feed.app} ${release.version} at ${location}, but that manifest is ${manifest.app} ${manifest.version}`, {
      hint: 'the feed and the manifest disagree; fix the feed (or the published manifest)',
      details: { feed: feed.location, manifest: location, expected: { app: feed.app, version: release.version }, found: { app: manifest.app, version: manifest.version } },
    });
  }
}

/** semver's answers open-release needs, so that it loads semver only with this module. */
export function semverValid(v: string): boolean {
  return semver.valid(v) !== null;
}

export function semverLt(a: string, b: string): boolean {
  return semver.lt(a, b);
}
