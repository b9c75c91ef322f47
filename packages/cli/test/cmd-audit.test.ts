/**
 * The audit commands as a user runs them (real child processes): verify --journal and its exit
 * codes, anchors, --journal FILE keeping its common meaning, who/where in log and show --json,
 * and journals of an older or newer schema.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { apply, defaultContext, loadManifestFile } from '@codemate-txn/engine';
import { cleanupTemps, makeRelease, runCli, sqlite3, tempDir, type CliResult } from '@codemate-txn/testkit';
import { makeV1Journal } from '../../journal/test/helpers/v1-journal.js';

test.after(cleanupTemps);

interface World {
  target: string;
  journal: string;
  m1: string;
}

async function installed(): Promise<World> {
  const work = tempDir();
  const m1 = await makeRelease(path.join(work, 'rel-1'), { app: 'demo', version: '1.0.0', tree: { 'a.txt': 'a\n', 'bin/run': { content: '#!/bin/sh\n', mode: 0o755 } } });
  const m2 = await makeRelease(path.join(work, 'rel-2'), { app: 'demo', version: '2.0.0', tree: { 'a.txt': 'a2\n', 'bin/run': { content: '#!/bin/sh\n', mode: 0o755 } } });
  const target = path.join(work, 'inst', 'app');
  const ctx = { ...defaultContext({}), user: 'cli-auditor', host: 'cli-host' };
  await apply(await loadManifestFile(m1, work), { target }, ctx);
  await apply(await loadManifestFile(m2, work), { target }, ctx);
  return { target, journal: path.join(work, 'inst', 'app.journal.db'), m1 };
}

const show = (r: CliResult): string => `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
const json = (r: CliResult): Record<string, unknown> => JSON.parse(r.stdout) as Record<string, unknown>;

test('verify --journal: exit 0 and the chain head when intact', async () => {
  const w = await installed();
  const r = runCli(['verify', '--journal', '--target', w.target]);
  assert.is(r.code, 0, show(r));
  assert.match(r.stdout, /^intact: the journal's history verifies: \d+ records chained, 2 transactions/);
  assert.match(r.stdout, /^head: \d+:[0-9a-f]{64}$/m);
  const j = runCli(['verify', '--target', w.target, '--journal', '--json']);
  assert.is(j.code, 0, show(j));
  const o = json(j);
  assert.equal([o.ok, o.intact, o.problems, o.schemaVersion], [true, true, [], 3]);
});

test('verify --journal: exit 5 naming the record after a sqlite3 shell edit; --json lists the problems', async () => {
  const w = await installed();
  sqlite3(w.journal, `DROP TRIGGER op_append_only; UPDATE op SET dst = '/tmp/elsewhere' WHERE txn_id = 1 AND seq = 2;`);
  const r = runCli(['verify', '--journal', '--target', w.target]);
  assert.is(r.code, 5, show(r));
  assert.match(r.stdout, /^tampered: /);
  assert.match(r.stdout, /^first problem: op 2 of txn 1 \(chain record \d+\) does not match its hash/m);
  const o = json(runCli(['verify', '--journal', '--target', w.target, '--json']));
  assert.is(o.ok, false);
  const problems = o.problems as Array<{ kind: string; record: string }>;
  assert.equal(problems.map((p) => [p.kind, p.record]), [['hash', 'op 2 of txn 1'], ['guard', 'trigger op_append_only']]);
  // The disk itself did not change: plain verify is still clean.
  assert.is(runCli(['verify', '--target', w.target]).code, 0);
});

test('verify --anchor: a recorded head passes; after a consistent rewrite it does not; a malformed one is exit 2', async () => {
  const w = await installed();
  const head = json(runCli(['verify', '--journal', '--target', w.target, '--json'])).head as { seq: number; hash: string };
  const ok = runCli(['verify', '--target', w.target, '--anchor', `${head.seq}:${head.hash}`]);
  assert.is(ok.code, 0, show(ok));
  assert.match(ok.stdout, /is in the chain: nothing up to it was rewritten/);
  const wrong = runCli(['verify', '--target', w.target, '--anchor', `${head.seq}:${'0'.repeat(64)}`]);
  assert.is(wrong.code, 5, show(wrong));
  assert.match(wrong.stdout, /history up to it was rewritten/);
  const bad = runCli(['verify', '--target', w.target, '--anchor', 'yesterday']);
  assert.is(bad.code, 2, show(bad));
  assert.match(bad.stderr, /E_USAGE: verify --anchor: expected SEQ:HASH/);
});

test('--journal FILE keeps its common meaning; add --chain to verify that journal\'s history', async () => {
  const w = await installed();
  const moved = path.join(path.dirname(w.journal), 'moved.db');
  fs.copyFileSync(w.journal, moved);
  const disk = runCli(['verify', '--target', w.target, '--journal', moved]);
  assert.is(disk.code, 0, show(disk));
  assert.match(disk.stdout, /^clean: demo 2\.0\.0/);
  const chain = runCli(['verify', '--target', w.target, '--journal', moved, '--chain']);
  assert.is(chain.code, 0, show(chain));
  assert.ok(chain.stdout.includes(`intact: the journal's history verifies`) && chain.stdout.includes(moved));
  fs.chmodSync(path.join(w.target, 'bin/run'), 0o700);
  assert.is(runCli(['verify', '--target', w.target, '--journal', moved]).code, 5);
});

test('log --json and show --json say who ran each transaction, from which manifest, with its chain hash', async () => {
  const w = await installed();
  const l = json(runCli(['log', '--target', w.target, '--json']));
  const txns = l.transactions as Array<Record<string, unknown>>;
  assert.equal(txns.map((t) => [t.id, t.user, t.host, typeof t.pid]), [[2, 'cli-auditor', 'cli-host', 'number'], [1, 'cli-auditor', 'cli-host', 'number']]);
  assert.is(txns[1]?.manifestSource, w.m1);
  for (const t of txns) {
    assert.match(String(t.manifestSha256), /^[0-9a-f]{64}$/);
    assert.match(String(t.hash), /^[0-9a-f]{64}$/);
    assert.match(String(t.committedAt), /^\d{4}-/);
    assert.is(typeof t.toolVersion, 'string');
  }
  const s = json(runCli(['show', '1', '--target', w.target, '--json']));
  const txn = s.txn as Record<string, unknown>;
  assert.equal([txn.user, txn.host, txn.manifestSource], ['cli-auditor', 'cli-host', w.m1]);
  const jsonl = runCli(['log', '--jsonl', '--target', w.target]).stdout.trim().split('\n').map((x) => JSON.parse(x) as Record<string, unknown>);
  assert.equal(jsonl.map((t) => t.hash), [...txns].reverse().map((t) => t.hash), 'log --jsonl ships each transaction\'s hash (an anchor)');
});

test('a schema-1 journal: audit commands read it without migrating; verify --journal says there is no chain yet; recover migrates it', () => {
  const root = tempDir();
  const journal = path.join(root, 'app.journal.db');
  makeV1Journal(journal);
  const target = path.join(root, 'app');
  const logged = runCli(['log', '--target', target]);
  assert.is(logged.code, 0, show(logged));
  assert.match(logged.stdout, /rolled_back/);
  assert.is(sqlite3(journal, 'PRAGMA user_version'), '1', 'read-only commands do not migrate');
  const before = runCli(['verify', '--journal', '--target', target]);
  assert.is(before.code, 5, show(before));
  assert.match(before.stdout, /^unverifiable: the journal has schema version 1, which predates the hash chain/);
  const rec = runCli(['recover', '--target', target]);
  assert.is(rec.code, 0, show(rec));
  assert.is(sqlite3(journal, 'PRAGMA user_version'), '3');
  const after = runCli(['verify', '--journal', '--target', target]);
  assert.is(after.code, 0, show(after));
  assert.match(after.stdout, /^note: transactions 1, 2, 3 predate schema 2 and were chained by its migration/m);
});

test('a journal of a newer schema: every command refuses it with exit 2 and a clear message, and leaves it alone', async () => {
  const w = await installed();
  sqlite3(w.journal, 'PRAGMA user_version = 99');
  const bytes = fs.readFileSync(w.journal);
  for (const args of [['log'], ['status'], ['verify'], ['verify', '--journal'], ['recover']]) {
    const r = runCli([...args, '--target', w.target]);
    assert.is(r.code, 2, `${args.join(' ')}: ${show(r)}`);
    assert.match(r.stderr, /E_JOURNAL_SCHEMA: journal .* has schema version 99; this codemate-txn \(schema \d+\) cannot read or write it/);
    assert.match(r.stderr, /what to do: .*newer codemate-txn/);
  }
  assert.ok(fs.readFileSync(w.journal).equals(bytes));
});

test.run();
