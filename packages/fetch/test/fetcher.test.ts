import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isTxnError, type TxnError } from '@codemate-txn/core';
import { createFetcher, type Fetcher, type FetchOptions } from '@codemate-txn/fetch';
import { tempDir, makeTree, cleanupTemps } from '@codemate-txn/testkit';
import { startReleaseServer, type ReleaseServer } from './helpers/release-server.js';

const BODY = Buffer.from('0123456789'.repeat(100)); // 1000 bytes
const FAST: FetchOptions = { timeoutMs: 150, retryDelayMs: 1, retries: 3 };

let root: string;
let srv: ReleaseServer;
const fetchers: Fetcher[] = [];

function fetcher(o: FetchOptions = {}): Fetcher {
  const f = createFetcher({ ...FAST, ...o });
  fetchers.push(f);
  return f;
}

async function drain(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of it) chunks.push(c);
  return Buffer.concat(chunks);
}

async function failure(p: Promise<unknown>): Promise<TxnError> {
  try {
    await p;
  } catch (e: unknown) {
    if (isTxnError(e)) return e;
    throw e;
  }
  throw new Error('expected a TxnError, the call succeeded');
}

const get = (f: Fetcher, p = '/f/data.bin', size = BODY.length) => drain(f.body(srv.url(p), { expectedSize: size, label: `files entry "${p.slice(3)}"`, details: { path: p.slice(3) } }));

test.before(async () => {
  root = tempDir();
  makeTree(root, { 'f/data.bin': BODY, 'f/small.txt': 'hi\n', 'f/with space/ré sumé#1.txt': 'enc\n' });
  srv = await startReleaseServer(root);
});
test.before.each(() => srv.reset());
test.after(async () => {
  for (const f of fetchers) f.close();
  await srv.close();
  cleanupTemps();
});

test('a plain download: the bytes, one request, counted', async () => {
  const f = fetcher();
  assert.ok((await get(f)).equals(BODY));
  assert.is(srv.hits('/f/data.bin'), 1);
  assert.equal({ ...f.stats, activeMs: 0 }, { requests: 1, retries: 0, bytes: 1000, documentBytes: 0, files: 1, activeMs: 0 });
});

test('paths are URL-encoded segment by segment (space, accent, #)', async () => {
  const f = fetcher();
  const out = await drain(f.body(srv.base + '/f/' + ['with space', 'ré sumé#1.txt'].map(encodeURIComponent).join('/'), { expectedSize: 4, label: 'x' }));
  assert.is(out.toString(), 'enc\n');
});

test('500 twice then OK: retried twice, succeeds', async () => {
  srv.fault('/f/data.bin', { status: 500 }, 2);
  const f = fetcher();
  assert.ok((await get(f)).equals(BODY));
  assert.is(srv.hits('/f/data.bin'), 3);
  assert.is(f.stats.retries, 2);
});

test('500 forever: E_DOWNLOAD after retries + 1 attempts, naming URL, path, expected, received', async () => {
  srv.fault('/f/data.bin', { status: 500 });
  const f = fetcher({ retries: 2 });
  const e = await failure(get(f));
  assert.is(e.code, 'E_DOWNLOAD');
  assert.is(e.exitCode, 1);
  assert.is(srv.hits('/f/data.bin'), 3);
  assert.match(e.message, 'files entry "data.bin"');
  assert.match(e.message, srv.url('/f/data.bin'));
  assert.match(e.message, 'HTTP 500');
  assert.match(e.message, 'after 3 attempts');
  assert.match(e.message, 'expected 1000 bytes, received 0 bytes');
  assert.is(e.facts.path, 'data.bin');
  assert.is(e.facts.status, 500);
});

test('404: not retried, E_DOWNLOAD naming the status', async () => {
  const f = fetcher();
  const e = await failure(get(f, '/f/missing.bin', 10));
  assert.is(e.code, 'E_DOWNLOAD');
  assert.match(e.message, 'answered HTTP 404 Not Found');
  assert.match(e.message, 'expected 10 bytes, received 0 bytes');
  assert.is(srv.hits('/f/missing.bin'), 1);
  assert.is(f.stats.retries, 0);
});

test('connection reset mid-body once: resumed (server ignores Range: bytes skipped), right bytes', async () => {
  srv.fault('/f/data.bin', { resetAfter: 300 }, 1);
  const f = fetcher();
  assert.ok((await get(f)).equals(BODY));
  assert.is(srv.hits('/f/data.bin'), 2);
  assert.is(f.stats.retries, 1);
  assert.is(srv.requests[1]!.range, 'bytes=300-');
  assert.is(srv.requests[1]!.status, 200);
});

test('connection reset mid-body once, server honours Range: 206, only the rest is sent again', async () => {
  const dir = tempDir();
  makeTree(dir, { 'f/data.bin': BODY });
  const rs = await startReleaseServer(dir, { ranges: true });
  try {
    rs.fault('/f/data.bin', { resetAfter: 300 }, 1);
    const f = fetcher();
    const out = await drain(f.body(rs.url('/f/data.bin'), { expectedSize: 1000, label: 'x' }));
    assert.ok(out.equals(BODY));
    assert.is(rs.requests[1]!.status, 206);
    assert.is(rs.bytesSent('/f/data.bin'), 1000, '300 before the reset + the 700 left');
  } finally {
    await rs.close();
  }
});

test('connection reset mid-body every time: E_DOWNLOAD after all retries, names the network error', async () => {
  srv.fault('/f/data.bin', { resetAfter: 300 });
  const f = fetcher({ retries: 2 });
  const e = await failure(get(f));
  assert.is(e.code, 'E_DOWNLOAD');
  assert.match(e.message, 'failed on the network');
  assert.match(e.message, 'after 3 attempts');
  assert.match(e.message, 'expected 1000 bytes, received 300 bytes');
  assert.is(srv.hits('/f/data.bin'), 3);
});

test('a Content-Length above the expected size is refused before reading, not retried', async () => {
  srv.fault('/f/data.bin', { extra: 5 });
  const f = fetcher();
  const e = await failure(get(f));
  assert.is(e.code, 'E_STAGE_VERIFY');
  assert.match(e.message, 'declared 1005 bytes');
  assert.match(e.message, 'expected 1000 bytes, received 0 bytes');
  assert.is(srv.hits('/f/data.bin'), 1);
});

test('a body longer than expected without a length is cut off at the first byte too many', async () => {
  srv.fault('/f/data.bin', { extra: 5, chunked: true });
  const f = fetcher();
  const e = await failure(get(f));
  assert.is(e.code, 'E_STAGE_VERIFY');
  assert.match(e.message, 'sent more than 1000 bytes; cut off');
  assert.match(e.message, 'received more than 1000 bytes (cut off)');
  assert.is(srv.hits('/f/data.bin'), 1);
});

test('an endless body is cut off: the client stops reading right after the expected size', async () => {
  srv.fault('/f/data.bin', { endless: true });
  const f = fetcher();
  const e = await failure(get(f));
  assert.is(e.code, 'E_STAGE_VERIFY');
  assert.ok(f.stats.bytes < 1000 + 64 * 1024, `read ${f.stats.bytes} bytes`);
  assert.is(srv.hits('/f/data.bin'), 1);
});

test('a short body (the server has fewer bytes): E_STAGE_VERIFY, not retried', async () => {
  srv.fault('/f/data.bin', { truncate: 600 });
  const f = fetcher();
  const e = await failure(get(f));
  assert.is(e.code, 'E_STAGE_VERIFY');
  assert.match(e.message, 'ended after 600 bytes (short body)');
  assert.match(e.message, 'expected 1000 bytes, received 600 bytes');
  assert.is(srv.hits('/f/data.bin'), 1);
});

test('a server that never answers: timeout, retried, then E_DOWNLOAD', async () => {
  srv.fault('/f/data.bin', { stall: 'head' });
  const f = fetcher({ timeoutMs: 60, retries: 1 });
  const t0 = Date.now();
  const e = await failure(get(f));
  assert.is(e.code, 'E_DOWNLOAD');
  assert.match(e.message, 'timed out: no response for 60 ms');
  assert.is(srv.hits('/f/data.bin'), 2);
  assert.ok(Date.now() - t0 < 1000);
});

test('a server that stalls mid-body once: timeout, resumed, succeeds', async () => {
  srv.fault('/f/data.bin', { stall: 'body' }, 1);
  const f = fetcher({ timeoutMs: 60 });
  assert.ok((await get(f)).equals(BODY));
  assert.is(srv.hits('/f/data.bin'), 2);
  assert.is(srv.requests[1]!.range, 'bytes=500-');
});

test('a redirect loop: bounded, not retried, E_DOWNLOAD', async () => {
  srv.fault('/f/a', { redirect: '/f/b' });
  srv.fault('/f/b', { redirect: '/f/a' });
  const f = fetcher({ maxRedirects: 5 });
  const e = await failure(get(f, '/f/a', 10));
  assert.is(e.code, 'E_DOWNLOAD');
  assert.match(e.message, 'redirected more than 5 times');
  assert.is(srv.hits('/f/a') + srv.hits('/f/b'), 6);
  assert.is(f.stats.retries, 0);
});

test('a redirect is followed', async () => {
  srv.fault('/f/old.bin', { redirect: '/f/data.bin' });
  const f = fetcher();
  assert.ok((await get(f, '/f/old.bin')).equals(BODY));
  assert.is(f.stats.requests, 2);
});

test('connection refused: retried, then E_DOWNLOAD naming the errno', async () => {
  const f = fetcher({ retries: 1 });
  const e = await failure(drain(f.body('http://127.0.0.1:1/x', { expectedSize: 1, label: 'files entry "x"' })));
  assert.is(e.code, 'E_DOWNLOAD');
  assert.match(e.message, 'ECONNREFUSED');
  assert.is(f.stats.retries, 1);
});

test('a zero-byte file: one request, no bytes', async () => {
  srv.put('/f/empty', '');
  const f = fetcher();
  assert.is((await get(f, '/f/empty', 0)).length, 0);
  assert.is(f.stats.files, 1);
});

test('credentials in a URL never appear in a message', async () => {
  const f = fetcher();
  const e = await failure(drain(f.body(srv.base.replace('//', '//alice:s3cret@') + '/f/missing', { expectedSize: 1, label: 'x' })));
  assert.not.match(e.message, 's3cret');
  assert.match(e.message, '//***@127.0.0.1');
});

test('at most `concurrency` bodies in flight', async () => {
  let inFlight = 0;
  let max = 0;
  const s = http.createServer((_req, res) => {
    inFlight++;
    max = Math.max(max, inFlight);
    setTimeout(() => {
      inFlight--;
      res.end('x');
    }, 20);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  try {
    const f = fetcher({ concurrency: 3 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => drain(f.body(`${base}/${i}`, { expectedSize: 1, label: 'x' }))));
    assert.is(max, 3);
    assert.is(f.stats.files, 10);
  } finally {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

test('interrupted: the download stops with E_SIGNAL', async () => {
  const f = fetcher();
  const e = await failure(drain(f.body(srv.url('/f/data.bin'), { expectedSize: 1000, label: 'x', interrupted: () => 'SIGINT' })));
  assert.is(e.code, 'E_SIGNAL');
});

test('getBytes: a document, a missing optional one, a 404 with the caller\'s code', async () => {
  const f = fetcher();
  const doc = await f.getBytes(srv.url('/f/small.txt'), { maxBytes: 100, label: 'manifest' });
  assert.is(doc.bytes.toString(), 'hi\n');
  assert.is(await f.getBytes(srv.url('/f/nope.sig'), { maxBytes: 100, label: 'signature', allowMissing: true }), undefined);
  const e = await failure(f.getBytes(srv.url('/f/nope.json'), { maxBytes: 100, label: 'manifest', clientErrorCode: 'E_MANIFEST_READ' }));
  assert.is(e.code, 'E_MANIFEST_READ');
  assert.match(e.message, 'manifest: download failed: GET');
  const big = await f.getBytes(srv.url('/f/data.bin'), { maxBytes: 10, label: 'manifest' });
  assert.is(big.bytes.length, 11, 'read one byte past the cap so the caller can report "too large"');
});

test.run();
