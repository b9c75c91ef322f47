/**
 * @codemate-txn/fetch: releases from a server. An HTTP(S) client for release files (bounded
 * concurrency, timeouts, bounded redirects, retries with backoff, size cut-off, resume), manifests
 * by path or URL with signature and expiry checks, and release feeds.
 */
export { createFetcher, FETCH_DEFAULTS } from './fetcher.js';
export type { Fetcher, FetchOptions, FetchStats, BodyOptions, GetBytesOptions, Document } from './fetcher.js';
export { loadManifest, expiryOf, DEFAULT_MANIFEST_MAX_BYTES } from './load-manifest.js';
export type { LoadManifestOptions, LoadedRelease } from './load-manifest.js';
export { loadFeed, parseFeed, selectRelease, checkFeedManifest, FEED_SCHEMA, FEED_SCHEMA_PATH } from './feed.js';
export type { Feed, FeedRelease, SelectOptions, Selection } from './feed.js';
export { openRelease } from './open-release.js';
export type { OpenReleaseOptions, OpenedRelease, FeedChoice } from './open-release.js';
export { fileUrlOf, isHttpUrl } from './source-url.js';
