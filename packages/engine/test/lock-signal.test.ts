/**
 * One writer per target, and signals. The update's files come from a test HTTP server on
 * 127.0.0.1 that holds the response for src/b.js until the test opens the gate: a real `apply`
 * blocks mid-staging while holding the lock, a deterministic window for a second process and for
 * signals. (A FIFO in the release tree did this once; sources must now be regular files.)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tempDir, cleanupTemps, makeRelease, runCli, spawnCli, cliResult, snapshotTree, type CliResult } from '@codemate-txn/testkit';
import { Journal, acquireLock } from '@codemate-txn/journal';
import { TREE_V1, TREE_V2 } from './helpers.js';
import { startReleaseServer, type ReleaseServer } from '../../fetch/test/helpers/release-server.js';

const servers: ReleaseServer[] = [];
test.after(async () => {
  for (const s of servers) await s.close();
  cleanupTemps();
});

interface Blocked {
  target: string;
  /**
   * The update's manifest as a local file, for the other CLI runs: runCli is synchronous, so the
   * in-process server could not answer them while they run.
   */
  m2: string;
  /** Lets the held download of src/b.js through. */
  open: () => void;
  child: ReturnType<typeof spawnCli>;
  done: Promise<CliResult>;
  before: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(20);
  }
}

/** Installs v1, then starts an update to v2 over HTTP whose src/b.js download is held: it blocks there. */
async function blockedUpdate(extraArgs: string[] = []): Promise<Blocked> {
  const root = tempDir('lock-');
  const m1 = await makeRelease(path.join(root, 'rel-1'), { app: 'acc', version: '1.0.0', tree: TREE_V1 });
  const m2 = await makeRelease(path.join(root, 'rel-2'), { app: 'acc', version: '2.0.0', tree: TREE_V2 });
  const target = path.join(root, 'inst', 'app');
  assert.is(runCli(['apply', m1, '--target', target, '--quiet']).code, 0);
  const before = snapshotTree(target);
  const srv = await startReleaseServer(root);
  servers.push(srv);
  let open = (): void => {};
  srv.fault('/rel-2/files/src/b.js', { gate: new Promise<void>((resolve) => (open = resolve)) }, 1);
  const child = spawnCli(['apply', srv.url('/rel-2/manifest.json'), '--target', target, '--timeout', '60', ...extraArgs]);
  const done = cliResult(child);
  await waitFor(() => srv.hits('/rel-2/files/src/b.js') > 0);
  await sleep(100);
  return { target, m2, open: () => open(), child, done, before };
}

function feed(b: Blocked): void {
  b.open();
}

test('two applies at once: the second exits 4 naming the holder pid and start time; the first completes', async () => {
  const b = await blockedUpdate(['--quiet']);
  const second = runCli(['apply', b.m2, '--target', b.target]);
  assert.is(second.code, 4, second.stderr);
  assert.match(second.stderr, `process ${b.child.pid}`);
  assert.match(second.stderr, /since \d{4}-\d\d-\d\dT/);
  assert.match(second.stderr, /--wait/);
  const recover = runCli(['recover', '--target', b.target]);
  assert.is(recover.code, 4, 'recover also needs the lock');
  feed(b);
  const first = await b.done;
  assert.is(first.code, 0, first.stderr);
  assert.is(fs.readFileSync(path.join(b.target, '.codemate-version'), 'utf8'), '2.0.0\n');
  assert.is(runCli(['verify', '--target', b.target]).code, 0);
});

test('--wait waits for the holder, then proceeds', async () => {
  const root = tempDir('wait-');
  const m1 = await makeRelease(path.join(root, 'rel-1'), { app: 'acc', version: '1.0.0', tree: TREE_V1 });
  const target = path.join(root, 'inst', 'app');
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const lock = acquireLock(path.join(root, 'inst', 'app.journal.db.lock'), { pid: process.pid, host: 'test', command: 'test', startedAt: new Date().toISOString() });
  const refused = runCli(['apply', m1, '--target', target]);
  assert.is(refused.code, 4);
  const child = spawnCli(['apply', m1, '--target', target, '--wait', '10', '--quiet']);
  const done = cliResult(child);
  await sleep(700);
  lock.release();
  const r = await done;
  assert.is(r.code, 0, r.stderr);
  assert.ok(fs.existsSync(path.join(target, 'index.js')));
});

test('kill -9 of the lock holder leaves no stale lock: the next apply recovers and proceeds', async () => {
  const b = await blockedUpdate(['--quiet']);
  b.child.kill('SIGKILL');
  const r = await b.done;
  assert.is(r.signal, 'SIGKILL');
  feed(b);
  const next = runCli(['apply', b.m2, '--target', b.target]);
  assert.is(next.code, 0, next.stderr);
  assert.match(next.stderr, /recovered interrupted transaction 2/);
  assert.is(fs.readFileSync(path.join(b.target, '.codemate-version'), 'utf8'), '2.0.0\n');
});

test('--no-recover refuses with exit 3 and the exact command to run', async () => {
  const b = await blockedUpdate(['--quiet']);
  b.child.kill('SIGKILL');
  await b.done;
  const r = runCli(['apply', b.m2, '--target', b.target, '--no-recover']);
  assert.is(r.code, 3);
  assert.match(r.stderr, `codemate-txn recover --target ${b.target}`);
  assert.equal(snapshotTree(b.target), b.before, 'nothing touched');
});

for (const [sig, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
  test(`${sig} during apply rolls back cleanly and exits ${code}`, async () => {
    const b = await blockedUpdate();
    b.child.kill(sig);
    await sleep(100);
    b.child.kill(sig); // a second signal must not leave things half-undone
    feed(b);
    const r = await b.done;
    assert.is(r.code, code, r.stderr);
    assert.match(r.stderr, /unchanged/);
    assert.equal(snapshotTree(b.target), b.before);
    // Interrupted while downloading: the verified downloads are kept for the next apply (README).
    assert.equal(fs.readdirSync(path.dirname(b.target)).sort(), ['app', 'app.journal.db', 'app.journal.db.lock', 'app.journal.db.lock.holder', 'app.staging.resume']);
    const j = Journal.open(path.join(path.dirname(b.target), 'app.journal.db'), { readonly: true });
    const t = j.lastTxn()!;
    j.close();
    assert.is(t.state, 'rolled_back');
    assert.is(t.errorCode, 'E_SIGNAL');
  });
}

test('SIGINT during an install of many small files (synchronous copies) still rolls back: exit 130', async () => {
  const root = tempDir('sigsmall-');
  const tree: Record<string, string> = {};
  for (let i = 0; i < 3000; i++) tree[`d${i % 30}/f${i}.txt`] = `file ${i}\n`;
  const m = await makeRelease(path.join(root, 'rel'), { app: 'acc', version: '1.0.0', tree });
  const target = path.join(root, 'inst', 'app');
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const child = spawnCli(['apply', m, '--target', target]);
  const done = cliResult(child);
  await waitFor(() => fs.existsSync(path.join(root, 'inst', 'app.staging', 'd0')), 20_000);
  child.kill('SIGINT');
  const r = await done;
  assert.is(r.code, 130, r.stderr);
  assert.not.ok(fs.existsSync(target), 'the target was never created');
  assert.equal(fs.readdirSync(path.dirname(target)).sort(), ['app.journal.db', 'app.journal.db.lock', 'app.journal.db.lock.holder']);
});

test.run();
