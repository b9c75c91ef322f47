/**
 * The HTTP client of codemate-txn: bounded concurrency, an idle timeout on every wait, bounded
 * redirects (never https → http), retries with exponential backoff on network errors, timeouts
 * and 5xx/408/429, and no retry on anything else (a 404 or a wrong size will not fix itself).
 *
 * A file body is an async iterable of chunks that the engine's filesystem seam writes into
 * staging in one create-write-fsync (one crash point per file). A retry after bytes were already
 * handed out therefore cannot start the file again: it asks for the rest with `Range:` and, when
 * the server ignores that (200 instead of 206), skips the bytes it already has. The sha256 of the
 * whole stream, checked by the caller, decides whether the pieces belong together.
 *
 * Sizes: the stream stops the moment it would exceed the expected size (the endless-data attack
 * costs at most one chunk), a Content-Length above it is refused before any byte is read, and a
 * body that ends early is a short body (E_STAGE_VERIFY) unless the connection broke (retried).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { TOOL_VERSION, TxnError, isTxnError, type ErrorCode } from '@codemate-txn/core';
import { failure, getOnce, isRetryable, readBody, type Agents } from './http-get.js';

export interface FetchOptions {
  /** Downloads in flight at once. Default 8. */
  concurrency?: number;
  /** Give up on a connection that sends nothing (no response head, no data) for this long. Default 30 000 ms. */
  timeoutMs?: number;
  /** Redirects followed per request. Default 5. */
  maxRedirects?: number;
  /** Retries after a retryable failure (attempts = retries + 1). Default 4. */
  retries?: number;
  /** First backoff delay; doubled per retry, capped at 10 s, with jitter. Default 250 ms. */
  retryDelayMs?: number;
  userAgent?: string;
  /** For tests and embedders: how to wait between retries. */
  sleep?: (ms: number) => Promise<void>;
}

export interface FetchStats {
  /** HTTP requests sent (redirect hops and retries included). */
  requests: number;
  /** Attempts repeated after a retryable failure. */
  retries: number;
  /** File body bytes received (a retry's repeated bytes included). */
  bytes: number;
  /** Bytes of documents (manifests, feeds, signatures) received. */
  documentBytes: number;
  /** File bodies downloaded completely. */
  files: number;
  /** Milliseconds during which at least one download was in flight. */
  activeMs: number;
}

export interface BodyOptions {
  /** The manifest's size: more is cut off, less is a short body. */
  expectedSize: number;
  /** Names the download in messages, e.g. `files entry "bin/run"`. */
  label: string;
  /** Added to the error details (e.g. { path }). */
  details?: Record<string, unknown>;
  /** Called with each chunk's length as it arrives (progress). */
  onBytes?: (n: number) => void;
  /** Returns a signal name once the user interrupted: the download stops with E_SIGNAL. */
  interrupted?: () => string | undefined;
}

export interface GetBytesOptions {
  /** Read at most maxBytes + 1 bytes: the caller reports "too large" with its own code. */
  maxBytes: number;
  /** Names the document in messages, e.g. `manifest`. */
  label: string;
  /** Code for a 4xx answer (default E_DOWNLOAD). */
  clientErrorCode?: ErrorCode;
  /** Resolve with undefined on 404/410 instead of failing (optional documents such as signatures). */
  allowMissing?: boolean;
}

export interface Document {
  bytes: Buffer;
  /** The URL the bytes came from after redirects. */
  url: string;
}

export interface Fetcher {
  readonly options: Readonly<Required<Omit<FetchOptions, 'sleep'>>>;
  readonly stats: FetchStats;
  /** A file's bytes as chunks (see the module comment); resumes on network errors. */
  body(url: string, opts: BodyOptions): AsyncIterable<Buffer>;
  /** A small document (manifest, feed, signature), whole. */
  getBytes(url: string, opts: GetBytesOptions & { allowMissing: true }): Promise<Document | undefined>;
  getBytes(url: string, opts: GetBytesOptions): Promise<Document>;
  /** Closes idle keep-alive connections. */
  close(): void;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_BACKOFF_MS = 10_000;

export const FETCH_DEFAULTS = {
  concurrency: 8,
  timeoutMs: 30_000,
  maxRedirects: 5,
  retries: 4,
  retryDelayMs: 250,
  userAgent: `codemate-txn/${TOOL_VERSION}`,
} as const;

function statusText(res: http.IncomingMessage): string {
  const code = res.statusCode ?? 0;
  return `HTTP ${code}${res.statusMessage ? ` ${res.statusMessage}` : http.STATUS_CODES[code] ? ` ${http.STATUS_CODES[code]}` : ''}`;
}

/** URLs in messages never show credentials (`https://user:secret@host/` → `https://***@host/`). */
export function redact(text: string): string {
  return text.replace(/(\bhttps?:\/\/)[^/@\s]+@/gi, '$1***@');
}

function retryableStatus(code: number): boolean {
  return code >= 500 || code === 408 || code === 429;
}

/** A counting semaphore; `stats.activeMs` accrues while any slot is held. */
function slots(limit: number, stats: FetchStats) {
  let used = 0;
  let since = 0;
  const waiting: Array<() => void> = [];
  return {
    async acquire(): Promise<void> {
      if (used >= limit) await new Promise<void>((r) => waiting.push(r));
      if (used++ === 0) since = Date.now();
    },
    release(): void {
      if (--used === 0) stats.activeMs += Date.now() - since;
      waiting.shift()?.();
    },
  };
}

function parseContentRange(v: string | undefined): { start: number; total: number | undefined } | undefined {
  const m = v === undefined ? null : /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(v.trim());
  if (m === null) return undefined;
  return { start: Number(m[1]), total: m[3] === '*' ? undefined : Number(m[3]) };
}

function declaredLength(res: http.IncomingMessage): number | undefined {
  const v = res.headers['content-length'];
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

export function createFetcher(options: FetchOptions = {}): Fetcher {
  const o = {
    concurrency: Math.max(1, Math.floor(options.concurrency ?? FETCH_DEFAULTS.concurrency)),
    timeoutMs: options.timeoutMs ?? FETCH_DEFAULTS.timeoutMs,
    maxRedirects: options.maxRedirects ?? FETCH_DEFAULTS.maxRedirects,
    retries: options.retries ?? FETCH_DEFAULTS.retries,
    retryDelayMs: options.retryDelayMs ?? FETCH_DEFAULTS.retryDelayMs,
    userAgent: options.userAgent ?? FETCH_DEFAULTS.userAgent,
  };
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const stats: FetchStats = { requests: 0, retries: 0, bytes: 0, documentBytes: 0, files: 0, activeMs: 0 };
  // keepAlive: a release is many small files from one host. Idle sockets are unref'd by Node's
  // agent, so they never keep the process alive.
  const agents: Agents = {
    http: new http.Agent({ keepAlive: true, maxSockets: o.concurrency }),
    https: new https.Agent({ keepAlive: true, maxSockets: o.concurrency }),
  };
  const pool = slots(o.concurrency, stats);

  function backoff(attempt: number): number {
    const base = Math.min(MAX_BACKOFF_MS, o.retryDelayMs * 2 ** (attempt - 1));
    return Math.round(base * (0.75 + Math.random() * 0.25));
  }

  /** GET with redirects followed; resolves with a 2xx response or throws a failure. */
  async function open(url: string, headers: Record<string, string>): Promise<{ res: http.IncomingMessage; url: string }> {
    let cur: URL;
    try {
      cur = new URL(url);
    } catch (e: unknown) {
      throw failure('is not a valid URL', { retryable: false }, e);
    }
    for (let hops = 0; ; hops++) {
      if (cur.protocol !== 'http:' && cur.protocol !== 'https:') {
        throw failure(`is not an http(s) URL (found ${cur.protocol})`, { retryable: false });
      }
      stats.requests++;
      const res = await getOnce(cur, { 'user-agent': o.userAgent, 'accept-encoding': 'identity', ...headers }, o.timeoutMs, agents);
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (REDIRECTS.has(status) && location !== undefined) {
        res.destroy();
        if (hops >= o.maxRedirects) {
          throw failure(`was redirected more than ${o.maxRedirects} times (a redirect loop?); the last hop ${cur.href} pointed to ${location}`, { retryable: false, status });
        }
        let next: URL;
        try {
          next = new URL(location, cur);
        } catch (e: unknown) {
          throw failure(`was redirected to an invalid URL ${JSON.stringify(location)} by ${cur.href}`, { retryable: false, status }, e);
        }
        if (cur.protocol === 'https:' && next.protocol !== 'https:') {
          throw failure(`was redirected from https to ${next.href}; refusing to leave https`, { retryable: false, status });
        }
        cur = next;
        continue;
      }
      if (status >= 200 && status < 300) return { res, url: cur.href };
      res.destroy();
      const where = cur.href === url ? '' : ` (after redirects, at ${cur.href})`;
      throw failure(`answered ${statusText(res)}${where}`, { retryable: retryableStatus(status), status });
    }
  }

  function final(e: unknown, url: string, label: string, attempts: number, expected: string, received: string, details: Record<string, unknown>, clientErrorCode?: ErrorCode): unknown {
    if (!isTxnError(e) || typeof e.facts.reason !== 'string') return e;
    const status = typeof e.facts.status === 'number' ? e.facts.status : undefined;
    const code: ErrorCode = status !== undefined && status >= 400 && status < 500 && clientErrorCode ? clientErrorCode : e.code;
    const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
    const what = e.code === 'E_STAGE_VERIFY' ? 'download does not match the manifest' : `download failed${tries}`;
    const got = typeof e.facts.received === 'string' ? e.facts.received : received;
    return new TxnError(code, redact(`${label}: ${what}: GET ${url} ${e.facts.reason}; expected ${expected}, received ${got}`), {
      hint:
        e.code === 'E_STAGE_VERIFY'
          ? 'the server holds other bytes than the manifest says; republish the release or rebuild its manifest'
          : status !== undefined && status >= 400 && status < 500
            ? 'check the URL and that the release files were published with the manifest'
            : 'check the network and the server, then run the command again',
      cause: e,
      details: { ...details, url: redact(url), status: status ?? null, attempts, reason: redact(String(e.facts.reason)) },
    });
  }

  function checkInterrupted(interrupted: (() => string | undefined) | undefined): void {
    const sig = interrupted?.();
    if (sig) throw new TxnError('E_SIGNAL', `interrupted by ${sig}`, { details: { signal: sig } });
  }

  async function* body(url: string, bo: BodyOptions): AsyncGenerator<Buffer> {
    const expected = bo.expectedSize;
    const details = { ...bo.details, expectedSize: expected };
    let got = 0;
    let attempt = 0;
    let validator: string | undefined;
    await pool.acquire();
    try {
      for (;;) {
        attempt++;
        try {
          if (got === expected && expected > 0) break; // everything arrived before the connection broke
          const headers: Record<string, string> = {};
          if (got > 0) {
            headers.range = `bytes=${got}-`;
            if (validator !== undefined) headers['if-range'] = validator;
          }
          const { res } = await open(url, headers);
          let skip = 0;
          let total = declaredLength(res);
          if (res.statusCode === 206) {
            const cr = parseContentRange(res.headers['content-range']);
            if (cr === undefined || cr.start !== got) {
              res.destroy();
              throw failure(`answered a request for bytes ${got}- with range ${res.headers['content-range'] ?? '(none)'}`, { retryable: false });
            }
            total = cr.total;
          } else {
            skip = got; // the whole body again: drop what we already have
          }
          if (total !== undefined && total > expected) {
            res.destroy();
            throw failure(`declared ${total} bytes (Content-Length); refused before reading`, { retryable: false, verify: true });
          }
          const etag = res.headers.etag;
          validator = etag !== undefined && !etag.startsWith('W/') ? etag : res.headers['last-modified'];
          for await (let chunk of readBody(res, o.timeoutMs)) {
            checkInterrupted(bo.interrupted);
            stats.bytes += chunk.length;
            bo.onBytes?.(chunk.length);
            if (skip > 0) {
              const drop = Math.min(skip, chunk.length);
              skip -= drop;
              chunk = chunk.subarray(drop);
              if (chunk.length === 0) continue;
            }
            if (got + chunk.length > expected) {
              throw failure(`sent more than ${expected} bytes; cut off after ${got + chunk.length}`, {
                retryable: false,
                verify: true,
                received: `more than ${expected} bytes (cut off)`,
              });
            }
            got += chunk.length;
            yield chunk;
          }
          if (got < expected) throw failure(`ended after ${got} bytes (short body)`, { retryable: false, verify: true });
          break;
        } catch (e: unknown) {
          if (!isRetryable(e) || attempt > o.retries) {
            throw final(e, url, bo.label, attempt, `${expected} bytes`, `${got} bytes`, details);
          }
          stats.retries++;
          checkInterrupted(bo.interrupted);
          await sleep(backoff(attempt));
        }
      }
      stats.files++;
    } finally {
      pool.release();
    }
  }

  async function getBytes(url: string, go: GetBytesOptions): Promise<Document | undefined> {
    const cap = go.maxBytes + 1;
    for (let attempt = 1; ; attempt++) {
      let received = 0;
      try {
        const { res, url: finalUrl } = await open(url, {});
        const chunks: Buffer[] = [];
        for await (const chunk of readBody(res, o.timeoutMs)) {
          stats.documentBytes += chunk.length;
          const take = chunk.subarray(0, cap - received);
          chunks.push(take);
          received += take.length;
          if (received >= cap) break; // the caller reports "too large"
        }
        return { bytes: Buffer.concat(chunks, received), url: finalUrl };
      } catch (e: unknown) {
        const status = isTxnError(e) ? e.facts.status : undefined;
        if (go.allowMissing && (status === 404 || status === 410)) return undefined;
        if (!isRetryable(e) || attempt > o.retries) {
          throw final(e, url, go.label, attempt, `HTTP 200 with the ${go.label}`, `${received} bytes`, {}, go.clientErrorCode);
        }
        stats.retries++;
        await sleep(backoff(attempt));
      }
    }
  }

  return {
    options: o,
    stats,
    body,
    getBytes: getBytes as Fetcher['getBytes'],
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
