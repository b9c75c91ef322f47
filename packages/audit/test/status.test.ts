import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { status, formatStatus } from '@codemate-txn/audit';
import { Journal, acquireLock } from '@codemate-txn/journal';
import { targetLayout } from '@codemate-txn/core';
import { buildDemo } from './helpers/demo-journal.js';
import { tempDir } from './helpers/temp-tree.js';

const holder = { pid: process.pid, host: 'test-host', command: 'apply', startedAt: '2024-05-04T00:00:00.000Z' };

/** Leaves one more transaction unfinished in `state`. */
function interrupt(journalPath: string, state: 'applying' | 'committed'): number {
  const j = Journal.open(journalPath, { now: () => new Date('2024-05-04T09:00:00.000Z') });
  const id = j.beginTxn({
    kind: 'update', app: 'demo', fromVersion: '2.0.0', toVersion: '2.1.0', target: '/x', stagingDir: '/x.staging',
    backupDir: null, keepBackup: false, manifestSha256: 'f'.repeat(64), manifestSource: 'm.json', pid: 1, host: 'h',
    user: 'u', toolVersion: '0.1.0',
  }, []);
  j.setState(id, 'applying');
  if (state === 'committed') j.commitTxn(id);
  j.close();
  return id;
}

test('status names the installed version, the last transaction and the file count', () => {
  const d = buildDemo();
  const r = status({ target: d.target });
  assert.is(r.target, d.target);
  assert.is(r.journal, d.journal);
  assert.ok(r.journalExists);
  assert.equal(r.installed, { app: 'demo', version: '2.0.0', txnId: d.ids.update });
  assert.is(r.files, 5);
  assert.is(r.dirs, 1);
  assert.is(r.lastTxn?.id, d.ids.failed);
  assert.equal(r.interrupted, []);
  assert.equal(r.lock, { path: `${d.journal}.lock`, held: false, pid: null, holder: null, method: r.lock.method });
  const text = formatStatus(r);
  assert.match(text, /^installed\s+demo 2\.0\.0 \(transaction 2\), 5 files, 1 directory$/m);
  assert.match(text, /^last\s+#3 update demo 2\.0\.0 → 3\.0\.0: rolled_back, .*E_STAGE_VERIFY/m);
  assert.match(text, /^lock\s+free$/m);
  assert.not.match(text, /next:/);
});

test('status of a target with no journal says nothing is installed (no error)', () => {
  const t = path.join(tempDir(), 'app');
  const r = status({ target: t });
  assert.is(r.journalExists, false);
  assert.is(r.installed, null);
  assert.is(r.lastTxn, null);
  assert.is(r.files, 0);
  assert.is(r.lock.held, false);
  assert.match(formatStatus(r), /^installed\s+nothing$/m);
  assert.not.ok(fs.existsSync(`${t}.journal.db`), 'status must not create a journal');
});

test('status shows an interrupted transaction and says to run recover', () => {
  const d = buildDemo();
  const id = interrupt(d.journal, 'applying');
  const r = status({ target: d.target });
  assert.equal(r.interrupted.map((t) => [t.id, t.state]), [[id, 'applying']]);
  assert.equal(r.installed?.version, '2.0.0', 'an uncommitted transaction does not change the installed version');
  const text = formatStatus(r);
  assert.match(text, /^interrupted\s+#4 update demo 2\.0\.0 → 2\.1\.0: applying, started 2024-05-04T09:00:00\.000Z$/m);
  assert.match(text, /^next: run `codemate-txn recover`/m);
});

test('status tells a committed transaction (cleanup left) from one that needs undoing', () => {
  const d = buildDemo();
  interrupt(d.journal, 'committed');
  const r = status({ target: d.target });
  assert.equal(r.interrupted.map((t) => t.state), ['committed']);
  assert.equal(r.installed?.version, '2.1.0', 'past the commit point the new version is installed');
  const text = formatStatus(r);
  assert.match(text, /^unfinished\s+#4 .*committed.* only cleanup is left$/m);
  assert.match(text, /^next: the next apply or `codemate-txn recover` finishes its cleanup$/m);
});

test('status reports the lock holder while the lock is held, and nothing once released', () => {
  const d = buildDemo();
  const lockPath = targetLayout(d.target).lock;
  interrupt(d.journal, 'applying');
  const lock = acquireLock(lockPath, holder);
  try {
    const r = status({ target: d.target });
    assert.ok(r.lock.held);
    assert.is(r.lock.pid, process.pid);
    assert.equal(r.lock.holder, holder);
    const text = formatStatus(r);
    assert.match(text, new RegExp(`^lock\\s+held by process ${process.pid} on test-host \\(apply, since 2024-05-04T00:00:00\\.000Z\\)`, 'm'));
    assert.match(text, /^running\s+#4 /m, 'with the lock held the unfinished transaction is running, not interrupted');
    assert.not.match(text, /recover/);
  } finally {
    lock.release();
  }
  const after = status({ target: d.target });
  assert.is(after.lock.held, false);
  assert.is(after.lock.holder, null, 'the stale holder file is not reported');
  assert.ok(fs.existsSync(`${lockPath}.holder`));
});

test('status sees a lock held by another process, and sees it gone after kill -9', async () => {
  const d = buildDemo();
  const lockPath = targetLayout(d.target).lock;
  const journalMain = require.resolve('@codemate-txn/journal');
  const script = `
    const { acquireLock } = require(${JSON.stringify(journalMain)});
    // Keep the Lock referenced: a collected one closes its database and drops the lock.
    globalThis.lock = acquireLock(${JSON.stringify(lockPath)}, { pid: process.pid, host: 'child', command: 'apply', startedAt: 'now' });
    process.stdout.write('locked\\n');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (b: Buffer) => { if (b.toString().includes('locked')) resolve(); });
      child.on('exit', (c) => reject(new Error(`lock holder exited early (${String(c)})`)));
    });
    const r = status({ target: d.target });
    assert.ok(r.lock.held);
    assert.is(r.lock.pid, child.pid);
    assert.is(r.lock.holder?.host, 'child');
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
  const after = status({ target: d.target });
  assert.is(after.lock.held, false, 'the OS dropped the lock with the process');
  assert.is(after.lock.holder, null);
});

test('status honours --journal', () => {
  const d = buildDemo();
  const moved = path.join(d.root, 'audit-copy.db');
  fs.copyFileSync(d.journal, moved);
  const r = status({ target: path.join(d.root, 'other'), journal: moved });
  assert.is(r.journal, moved);
  assert.is(r.installed?.version, '2.0.0');
  assert.is(r.lock.path, `${moved}.lock`);
});

test.run();
