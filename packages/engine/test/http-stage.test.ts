/**
 * Staging over HTTP against a real server on 127.0.0.1: every fault mode of issue 4 fails with
 * the right code and a message naming URL, path, expected and received, leaves the target
 * byte-identical with no staging left, and retries exactly where retries belong. Plus: one
 * filesystem mutation per downloaded file (crash points stay deterministic), byte progress.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { apply, type EngineContext, type ProgressEvent } from '@codemate-txn/engine';
import { Journal } from '@codemate-txn/journal';
import { isTxnError, type LoadedManifest, type TxnError } from '@codemate-txn/core';
import { createFetcher, loadManifest, type Fetcher, type FetchOptions } from '@codemate-txn/fetch';
import { TxnFs } from '@codemate-txn/fsops';
import { tempDir, makeRelease, cleanupTemps } from '@codemate-txn/testkit';
import { startReleaseServer, type Fault, type ReleaseServer } from '../../fetch/test/helpers/release-server.js';
import { ctxWith, snap, siblings, TREE_V1, TREE_V2 } from './helpers.js';

const BIG_V1 = Buffer.alloc(64 * 1024, 0x61);
const BIG_V2 = Buffer.alloc(64 * 1024, 0x62);
const BIG = '/rel-2/files/data/big.bin';
const CLEAN_SIBLINGS = ['app', 'app.journal.db', 'app.journal.db.lock', 'app.journal.db.lock.holder'];
const FAST: FetchOptions = { timeoutMs: 100, retryDelayMs: 1, retries: 2 };

let root: string;
let srv: ReleaseServer;
let l1: LoadedManifest;
let l2: LoadedManifest;
const fetchers: Fetcher[] = [];

function httpCtx(o: FetchOptions = {}, base: EngineContext = ctxWith()): EngineContext & { fetcher: Fetcher } {
  const fetcher = createFetcher({ ...FAST, ...o });
  fetchers.push(fetcher);
  return { ...base, fetcher };
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

/** A target with v1 installed over HTTP; the server's counts are reset afterwards. */
async function installedV1(): Promise<string> {
  const target = path.join(tempDir(), 'app');
  await apply(l1, { target }, httpCtx());
  srv.reset();
  return target;
}

test.before(async () => {
  root = tempDir();
  await makeRelease(path.join(root, 'rel-1'), { app: 'acc', version: '1.0.0', tree: { ...TREE_V1, 'data/big.bin': BIG_V1 } });
  await makeRelease(path.join(root, 'rel-2'), { app: 'acc', version: '2.0.0', tree: { ...TREE_V2, 'data/big.bin': BIG_V2 } });
  srv = await startReleaseServer(root);
  const f = createFetcher(FAST);
  fetchers.push(f);
  l1 = await loadManifest(srv.url('/rel-1/manifest.json'), { fetcher: f });
  l2 = await loadManifest(srv.url('/rel-2/manifest.json'), { fetcher: f });
});
test.before.each(() => srv.reset());
test.after(async () => {
  for (const f of fetchers) f.close();
  await srv.close();
  cleanupTemps();
});

test('install over HTTP: the exact tree, every file fetched once, stage ops journal the URL', async () => {
  const target = path.join(tempDir(), 'app');
  const ctx = httpCtx();
  const res = await apply(l1, { target }, ctx);
  assert.is(res.kind, 'install');
  assert.equal(snap(target).filter((l) => !l.includes('.codemate-version')), snap(path.join(root, 'rel-1', 'files')));
  const files = l1.manifest.files.filter((e) => e.type === 'file');
  for (const e of files) assert.is(srv.hits(`/rel-1/files/${e.path}`), 1, e.path);
  assert.is(ctx.fetcher.stats.files, files.length);
  assert.equal(siblings(target), CLEAN_SIBLINGS);
  const j = Journal.open(path.join(path.dirname(target), 'app.journal.db'), { readonly: true });
  const srcs = j.ops(res.txnId!).filter((o) => o.phase === 'stage' && o.kind === 'write' && o.action === 'stage').map((o) => o.src);
  j.close();
  assert.ok(srcs.length === files.length && srcs.every((s) => s?.startsWith(srv.base + '/rel-1/files/')), String(srcs));
});

test('update over HTTP downloads only new and changed files (not unchanged, mode-only or preserved ones)', async () => {
  const target = await installedV1();
  const ctx = httpCtx();
  const res = await apply(l2, { target }, ctx);
  assert.is(res.kind, 'update');
  const want = ['index.js', 'src/b.js', 'src/new/c.js', 'bin/tool', 'assets/résumé.txt', 'lib/v2/y.js', 'data/big.bin'].sort();
  const fetched = srv.requests.map((r) => r.path.replace('/rel-2/files/', '')).sort();
  assert.equal(fetched, want);
  const expectedBytes = want.reduce((n, p) => n + fs.statSync(path.join(root, 'rel-2', 'files', p)).size, 0);
  assert.is(srv.totalBytesSent(), expectedBytes);
  assert.is(ctx.fetcher.stats.bytes, expectedBytes);
  assert.is(res.bytesStaged, expectedBytes);
  assert.is(fs.readFileSync(path.join(target, 'data/big.bin')).equals(BIG_V2), true);
});

test('without ctx.fetcher, staging makes its own (defaults) and installs over HTTP', async () => {
  const target = path.join(tempDir(), 'app');
  const res = await apply(l1, { target }, ctxWith());
  assert.is(res.kind, 'install');
  assert.ok(fs.readFileSync(path.join(target, 'data/big.bin')).equals(BIG_V1));
});

interface Case {
  name: string;
  fault: Fault;
  times?: number;
  code: 'E_DOWNLOAD' | 'E_STAGE_VERIFY';
  message: string[];
  hits: number;
}

const CASES: Case[] = [
  { name: 'connection reset mid-body (every time)', fault: { resetAfter: 1000 }, code: 'E_DOWNLOAD', message: ['failed on the network', 'after 3 attempts', 'received 1000 bytes'], hits: 3 },
  { name: '500 forever', fault: { status: 500 }, code: 'E_DOWNLOAD', message: ['HTTP 500', 'after 3 attempts', 'received 0 bytes'], hits: 3 },
  { name: 'body longer than declared (Content-Length)', fault: { extra: 1 }, code: 'E_STAGE_VERIFY', message: [`declared ${BIG_V2.length + 1} bytes`], hits: 1 },
  { name: 'body longer than declared (chunked, endless)', fault: { endless: true }, code: 'E_STAGE_VERIFY', message: ['cut off', `received more than ${BIG_V2.length} bytes`], hits: 1 },
  { name: 'short body', fault: { truncate: 1000 }, code: 'E_STAGE_VERIFY', message: ['short body', 'received 1000 bytes'], hits: 1 },
  { name: 'wrong hash', fault: { body: Buffer.alloc(BIG_V2.length, 0x63) }, code: 'E_STAGE_VERIFY', message: ['sha256 mismatch', 'expected ', 'received '], hits: 1 },
  { name: '404', fault: { status: 404 }, code: 'E_DOWNLOAD', message: ['HTTP 404 Not Found', 'received 0 bytes'], hits: 1 },
  { name: 'slow server hitting the timeout', fault: { stall: 'head' }, code: 'E_DOWNLOAD', message: ['timed out: no response for 100 ms', 'after 3 attempts'], hits: 3 },
  { name: 'redirect loop', fault: { redirect: BIG }, code: 'E_DOWNLOAD', message: ['redirected more than 5 times'], hits: 6 },
];

for (const c of CASES) {
  test(`fault: ${c.name} → ${c.code}, exit 1, target untouched, staging removed, ${c.hits} request(s)`, async () => {
    const target = await installedV1();
    const before = snap(target);
    srv.fault(BIG, c.fault, c.times);
    const e = await failure(apply(l2, { target }, httpCtx()));
    assert.is(e.code, c.code, e.message);
    assert.is(e.exitCode, 1);
    assert.match(e.message, 'files entry "data/big.bin"');
    assert.match(e.message, srv.url(BIG));
    assert.match(e.message, 'expected');
    for (const m of c.message) assert.match(e.message, m);
    assert.equal(snap(target), before);
    assert.equal(siblings(target), CLEAN_SIBLINGS);
    assert.is(srv.hits(BIG), c.hits);
    const j = Journal.open(path.join(path.dirname(target), 'app.journal.db'), { readonly: true });
    const t = j.lastTxn()!;
    j.close();
    assert.is(t.state, 'rolled_back');
    assert.is(t.errorCode, c.code);
  });
}

test('500 twice then OK: retried twice, the update succeeds', async () => {
  const target = await installedV1();
  srv.fault(BIG, { status: 500 }, 2);
  const ctx = httpCtx();
  const res = await apply(l2, { target }, ctx);
  assert.is(res.kind, 'update');
  assert.is(srv.hits(BIG), 3);
  assert.is(ctx.fetcher.stats.retries, 2);
  assert.ok(fs.readFileSync(path.join(target, 'data/big.bin')).equals(BIG_V2));
});

test('connection reset mid-body once: resumed inside the same staged file, the update succeeds', async () => {
  const target = await installedV1();
  srv.fault(BIG, { resetAfter: 20_000 }, 1);
  const res = await apply(l2, { target }, httpCtx());
  assert.is(res.kind, 'update');
  assert.is(srv.hits(BIG), 2);
  assert.is(srv.requests.find((r) => r.path === BIG && r.range !== undefined)?.range, 'bytes=20000-');
  assert.ok(fs.readFileSync(path.join(target, 'data/big.bin')).equals(BIG_V2));
});

test('deterministic mode: one write mutation per downloaded file, same crash points with and without a retry', async () => {
  const points = async (withReset: boolean): Promise<string[]> => {
    const target = await installedV1();
    const out = path.join(tempDir(), 'points.txt');
    if (withReset) srv.fault(BIG, { resetAfter: 20_000 }, 1);
    const base = { ...ctxWith(), fs: new TxnFs({ crashpointsOut: out }) };
    await apply(l2, { target }, httpCtx({ concurrency: 8 }, base));
    return fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => l.split('\t')[1]!.split(path.dirname(target)).join('<P>'));
  };
  const plain = await points(false);
  const retried = await points(true);
  assert.equal(retried, plain);
  const writes = plain.filter((l) => l.startsWith('before write') && l.includes('app.staging/') && !l.includes('.codemate-version'));
  assert.is(writes.length, 7, writes.join('\n'));
});

test('download progress: bytes as they arrive, files as they complete, totals from the manifest', async () => {
  const target = await installedV1();
  const events: ProgressEvent[] = [];
  await apply(l2, { target }, { ...httpCtx(), onProgress: (ev) => events.push(ev) });
  const dl = events.filter((e) => e.phase === 'download');
  const last = dl[dl.length - 1]!;
  assert.is(last.done, 7);
  assert.is(last.total, 7);
  assert.is(last.bytes, last.totalBytes);
  assert.ok(last.totalBytes! > BIG_V2.length);
  assert.ok(dl.every((e, i) => i === 0 || e.bytes! >= dl[i - 1]!.bytes!), 'bytes never go back');
});

test('an interrupt during a download rolls back with E_SIGNAL', async () => {
  const target = await installedV1();
  const before = snap(target);
  // The signal arrives once bytes are flowing; big.bin stalls, so its retry sees it.
  srv.fault(BIG, { stall: 'body' }, 1);
  let downloading = false;
  const ctx = {
    ...httpCtx(),
    onProgress: (ev: ProgressEvent) => void (downloading ||= ev.phase === 'download'),
    interrupted: () => (downloading ? 'SIGTERM' : undefined),
  };
  const e = await failure(apply(l2, { target }, ctx));
  assert.is(e.code, 'E_SIGNAL');
  assert.equal(snap(target), before);
  // Interrupted while downloading: the verified downloads are kept for the next apply (resumable
  // staging), which removes them.
  assert.equal(siblings(target).filter((n) => n !== 'app.staging.resume'), CLEAN_SIBLINGS);
  await apply(l2, { target }, httpCtx());
  assert.equal(siblings(target), CLEAN_SIBLINGS);
});

test.run();
