/**
 * The hash chain survives crashes: it is written in the same SQLite transactions as the records
 * it covers, so wherever a process is SIGKILLed (CODEMATE_TXN_CRASH_AT, DESIGN §10) — after any
 * journal commit, around any filesystem mutation, in apply or inside recover — the journal left
 * behind, recovered and then updated again, verifies intact.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { verifyJournal } from '@codemate-txn/audit';
import { cleanupTemps, makeRelease, runCli, tempDir, type CliResult } from '@codemate-txn/testkit';
import { TREE_V1, TREE_V2 } from './helpers/engine-story.js';

test.after(cleanupTemps);

const work = tempDir();
const inst = path.join(work, 'inst');
const tmpl = path.join(work, 'tmpl');
const target = path.join(inst, 'app');
let m2 = '';
let points: Array<{ n: number; label: string }> = [];

const show = (r: CliResult): string => `exit ${r.code}/${r.signal}\n${r.stdout}\n${r.stderr}`;

function restore(): void {
  fs.rmSync(inst, { recursive: true, force: true });
  fs.cpSync(tmpl, inst, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
}

function intact(when: string): void {
  const r = verifyJournal({ target });
  assert.ok(r.intact, `${when}: ${JSON.stringify(r.problems.slice(0, 3))}`);
}

test.before(async () => {
  const m1 = await makeRelease(path.join(work, 'rel-1'), { app: 'demo', version: '1.0.0', tree: TREE_V1 });
  m2 = await makeRelease(path.join(work, 'rel-2'), { app: 'demo', version: '2.0.0', tree: TREE_V2 });
  const r = runCli(['apply', m1, '--target', target, '--quiet']);
  assert.is(r.code, 0, show(r));
  fs.cpSync(inst, tmpl, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  const out = path.join(work, 'points.txt');
  const ref = runCli(['apply', m2, '--target', target, '--quiet'], { env: { CODEMATE_TXN_CRASHPOINTS_OUT: out } });
  assert.is(ref.code, 0, show(ref));
  points = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => {
    const [n, label] = l.split('\t');
    return { n: Number(n), label: label ?? '' };
  });
  assert.ok(points.length > 20, `${points.length} crash points`);
});

test('a crash after every journal commit and around a sample of mutations of an update: recover, then the chain verifies', () => {
  // Every point with CODEMATE_TXN_FULL_MATRIX=1 (npm run test:crash); by default the points right
  // after a journal commit — where a chain written outside the commit would show — and two others.
  const full = process.env['CODEMATE_TXN_FULL_MATRIX'] === '1';
  const chosen = points.filter((p, i) => full || p.label.startsWith('journal') || i === 5 || i === points.length - 5);
  for (const [i, p] of chosen.entries()) {
    restore();
    const crashed = runCli(['apply', m2, '--target', target, '--quiet'], { env: { CODEMATE_TXN_CRASH_AT: String(p.n) } });
    assert.is(crashed.signal, 'SIGKILL', `crash at ${p.n} (${p.label}): ${show(crashed)}`);
    intact(`right after a crash at ${p.n} (${p.label})`);
    const rec = runCli(['recover', '--target', target, '--quiet']);
    assert.is(rec.code, 0, `recover after ${p.n} (${p.label}): ${show(rec)}`);
    intact(`after recovering a crash at ${p.n} (${p.label})`);
    if (!full && i !== chosen.length - 1) continue; // the chain goes on from a recovered journal
    const again = runCli(['apply', m2, '--target', target, '--quiet']);
    assert.is(again.code, 0, show(again));
    intact(`after the next apply (crash at ${p.n})`);
  }
});

test('a crash inside recover, then a second recover: the chain verifies', () => {
  const applying = points.find((p) => p.label.startsWith('journal apply intents'));
  assert.ok(applying);
  for (const k of process.env['CODEMATE_TXN_FULL_MATRIX'] === '1' ? [1, 2, 3, 4, 5, 6, 8, 10] : [2]) {
    restore();
    const crashed = runCli(['apply', m2, '--target', target, '--quiet'], { env: { CODEMATE_TXN_CRASH_AT: String(applying.n + 3) } });
    assert.is(crashed.signal, 'SIGKILL', show(crashed));
    const inRecover = runCli(['recover', '--target', target, '--quiet'], { env: { CODEMATE_TXN_CRASH_AT: String(k) } });
    if (inRecover.signal === 'SIGKILL') intact(`right after recover crashed at its point ${k}`);
    const rec = runCli(['recover', '--target', target, '--quiet']);
    assert.is(rec.code, 0, show(rec));
    intact(`after the second recover (first crashed at ${k})`);
  }
});

test.run();
