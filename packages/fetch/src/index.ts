/**
 * @codemate-txn/fetch: releases from a server. An HTTP(S) client for release files (bounded
 * concurrency, timeouts, bounded redirects, retries with backoff, size cut-off, resume), manifests
 * by path or URL with signature and expiry checks, and release feeds.
 */
export { createFetcher, FETCH_DEFAULTS } from './fetcher.js';
export type { Fetcher, FetchOptions, FetchStats, BodyOptions, GetBytesOptions, Document } from './fetcher.js';
export { loadManifest, expiryOf, DEFAULT_MANIFEST_MAX_BYTES } from './load-manifest.js';
export type { LoadManifestOptions, LoadedRelease } from './load-manifest.js';
export type { Feed, FeedRelease, SelectOptions, Selection } from './feed.js';
export { openRelease } from './open-release.js';
export type { OpenReleaseOptions, OpenedRelease, FeedChoice } from './open-release.js';
export { fileUrlOf, isHttpUrl } from './source-url.js';

// Feeds are loaded on first use (their validator and semver are start-up time a manifest apply
// never needs): these getters keep `import { loadFeed } from '@codemate-txn/fetch'` working.
import type * as FeedLib from './feed.js';
const feedLib = (): typeof FeedLib => require('./feed.js') as typeof FeedLib;
export const loadFeed: typeof FeedLib.loadFeed = (...a) => feedLib().loadFeed(...a);
export const parseFeed: typeof FeedLib.parseFeed = (...a) => feedLib().parseFeed(...a);
export const selectRelease: typeof FeedLib.selectRelease = (...a) => feedLib().selectRelease(...a);
export const checkFeedManifest: typeof FeedLib.checkFeedManifest = (...a) => feedLib().checkFeedManifest(...a);
