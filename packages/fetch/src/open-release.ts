/**
 * What `apply` acts on: a manifest named directly, or the release a feed selects. One call for the
 * CLI (and for an embedding updater): everything in here happens before any transaction starts.
 */
import type * as FeedLib from './feed.js';
import { TxnError } from '@codemate-txn/core';
import type { FeedRelease } from './feed.js';
import { loadManifest, type LoadManifestOptions, type LoadedRelease } from './load-manifest.js';

export interface OpenReleaseOptions extends LoadManifestOptions {
  /** A manifest path or URL (exclusive with feed). */
  manifest?: string;
  /** A feed path or URL (exclusive with manifest). */
  feed?: string;
  /** With a feed: 'latest' (default) or an exact version. */
  to?: string;
  /** With a feed: the channel (default 'stable'). */
  channel?: string;
  /** With a feed: the installed version (null: nothing installed); asked only when a feed is used. */
  installedVersion?: () => string | null;
}

export interface FeedChoice {
  location: string;
  release: FeedRelease;
  channel: string;
  skipped: Array<{ version: string; reason: string }>;
}

export type OpenedRelease =
  | { upToDate: false; loaded: LoadedRelease; feed: FeedChoice | null }
  /** `--to latest` found nothing newer than the installed version: nothing to load or apply. */
  | { upToDate: true; installed: string; feed: FeedChoice };

export async function openRelease(opts: OpenReleaseOptions): Promise<OpenedRelease> {
  if ((opts.manifest === undefined) === (opts.feed === undefined)) {
    throw new TxnError('E_USAGE', `apply needs exactly one of a manifest (path or URL) and --feed URL; found ${opts.manifest === undefined ? 'neither' : 'both'}`, {
      hint: 'codemate-txn apply <manifest>  or  codemate-txn apply --feed <url> [--to VERSION|latest] [--channel NAME]',
    });
  }
  if (opts.manifest !== undefined) {
    if (opts.to !== undefined || opts.channel !== undefined) {
      throw new TxnError('E_USAGE', '--to and --channel choose a release from a feed; expected them with --feed, found a manifest argument', {
        hint: 'drop --to/--channel, or use --feed instead of a manifest',
      });
    }
    return { upToDate: false, loaded: await loadManifest(opts.manifest, opts), feed: null };
  }
  // Feeds (their validator, semver) are loaded only when one is used: a manifest apply starts faster.
  const { checkFeedManifest, loadFeed, selectRelease, semverLt, semverValid } = require('./feed.js') as typeof FeedLib;
  const feed = await loadFeed(opts.feed!, opts);
  const to = opts.to ?? 'latest';
  const channel = opts.channel ?? 'stable';
  const installed = opts.installedVersion?.() ?? null;
  const sel = selectRelease(feed, { to, channel, installed });
  const choice: FeedChoice = { location: feed.location, release: sel.release, channel, skipped: sel.skipped };
  if (to === 'latest' && installed !== null && semverValid(installed) && semverLt(sel.release.version, installed)) {
    return { upToDate: true, installed, feed: choice };
  }
  const loaded = await loadManifest(sel.release.manifestLocation, opts);
  checkFeedManifest(feed, sel.release, loaded.manifest, loaded.location);
  return { upToDate: false, loaded, feed: choice };
}
