import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeRelease } from '../src/make-release.js';
import { runCli, spawnCli, cliResult, cliPath } from '../src/run-cli.js';
import { snapshotTree } from '../src/snapshot-tree.js';
import { sqlite3, sqlite3Available } from '../src/sqlite3.js';
import { tempDir, cleanupTemps } from '../src/temp-dir.js';

test.after(cleanupTemps);

test('cliPath is the bin of the cli package', () => {
  assert.ok(cliPath().endsWith(path.join('packages', 'cli', 'bin', 'codemate-txn.js')));
});

test('runCli returns exit code and output', () => {
  const r = runCli(['--version']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.signal, null);
  assert.match(r.stdout, /^\d+\.\d+\.\d+/);
  const bad = runCli(['no-such-command']);
  assert.is(bad.code, 2);
  assert.ok(bad.stderr.length > 0);
});

test('inherited CODEMATE_TXN_* variables are dropped; ones given in env are passed', async () => {
  const work = tempDir();
  const manifest = await makeRelease(path.join(work, 'rel'), { app: 'kit', version: '1.0.0', tree: { 'a.txt': 'a' } });
  // CODEMATE_TXN_CRASH_AT=1 makes the CLI SIGKILL itself at its first crash point (DESIGN §10).
  process.env['CODEMATE_TXN_CRASH_AT'] = '1';
  let inherited;
  try {
    inherited = runCli(['apply', manifest, '--target', path.join(work, 'one'), '--quiet']);
  } finally {
    delete process.env['CODEMATE_TXN_CRASH_AT'];
  }
  assert.is(inherited.code, 0, inherited.stderr);
  const given = runCli(['apply', manifest, '--target', path.join(work, 'two'), '--quiet'], { env: { CODEMATE_TXN_CRASH_AT: '1' } });
  assert.is(given.code, null);
  assert.is(given.signal, 'SIGKILL');
});

test('spawnCli + cliResult give what runCli gives', async () => {
  const r = await cliResult(spawnCli(['--version']));
  assert.equal(r, runCli(['--version']));
});

test('the helpers compose: makeRelease → apply → snapshotTree → sqlite3 on the journal', async () => {
  const work = tempDir();
  const manifest = await makeRelease(path.join(work, 'rel'), {
    app: 'kit',
    version: '1.0.0',
    tree: { 'a.txt': 'a', 'bin/run': { content: '#!/bin/sh\n', mode: 0o755 }, 'lib/cur': { symlink: 'a.txt' } },
  });
  const target = path.join(work, 'install', 'kit');
  fs.mkdirSync(path.dirname(target));
  const r = runCli(['apply', manifest, '--target', target, '--json']);
  assert.is(r.code, 0, r.stderr);
  assert.equal(snapshotTree(target, { exclude: (rel) => rel === '.codemate-version' }), snapshotTree(path.join(work, 'rel', 'files')));
  if (sqlite3Available()) {
    const db = path.join(work, 'install', 'kit.journal.db');
    assert.is(sqlite3(db, 'select app, to_version, state from txn_history'), 'kit|1.0.0|done');
  }
});

test.run();
