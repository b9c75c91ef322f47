/**
 * The crash matrix (issue 3): a real child process SIGKILLs itself at every crash point of an
 * apply (sampled by default; all with CODEMATE_TXN_FULL_MATRIX=1, as `npm run test:crash` does),
 * then `recover` must leave the target exactly old or exactly new. Also: crashes inside recover,
 * and one regression test per named crash window.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tempDir, cleanupTemps, makeRelease, runCli, type TreeSpec } from '@codemate-txn/testkit';
import { TREE_V1, TREE_V2, USER_FILES } from './helpers.js';
import { applyAgainReachesNew, check, crashAt, prepare, recoverPoints, reference, restore, sample, targetOf, type Reference, type Scenario } from './crash-harness.js';

test.after(cleanupTemps);

function heavy(prefix: string[], n: number, tag: string): TreeSpec {
  const t: TreeSpec = {};
  for (const d of prefix) for (let i = 0; i < n; i++) t[`${d}/sub${i % 3}/f${i}.js`] = `${tag} ${d} ${i}\n`;
  t['keep/k.txt'] = 'kept\n';
  return t;
}

async function scenario(name: string, v1: TreeSpec | null, v2: TreeSpec, userFiles: TreeSpec): Promise<Scenario> {
  const work = tempDir(`crash-${name}-`);
  const m1 = v1 ? await makeRelease(path.join(work, 'rel-1'), { app: 'acc', version: '1.0.0', tree: v1 }) : null;
  const m2 = await makeRelease(path.join(work, 'rel-2'), { app: 'acc', version: '2.0.0', tree: v2 });
  const s = { name, work, m1, m2, userFiles };
  prepare(s);
  return s;
}

function runMatrix(s: Scenario, ref: Reference, must: number[] = []): void {
  const K = ref.points.length;
  const points = sample(K, must);
  const bad: string[] = [];
  let good = 0;
  let sawOld = 0;
  let sawNew = 0;
  for (const i of points) {
    const out = crashAt(s, ref, i, { applyAgain: i % 3 === 0 || i === K });
    if (out.ok) good++;
    else bad.push(`crash point ${i} (${ref.points[i - 1]}): ${out.problems.join('; ')}`);
    if (out.which === 'old') sawOld++;
    if (out.which === 'new') sawNew++;
  }
  const full = points.length === K;
  console.log(`  ${s.name}: ${good}/${points.length} crash points consistent${full ? '' : ` (sampled from K=${K}; CODEMATE_TXN_FULL_MATRIX=1 runs all)`}; ended old ${sawOld}, new ${sawNew}`);
  assert.equal(bad, [], bad.join('\n'));
  assert.ok(sawOld > 0 && sawNew > 0, 'both outcomes occur across the matrix');
}

test('crash matrix (a): fresh install into a missing target', async () => {
  const s = await scenario('fresh-install', null, TREE_V1, {});
  const ref = reference(s);
  assert.ok(ref.points.length >= 20, `K=${ref.points.length}`);
  runMatrix(s, ref);
});

test('crash matrix (b): update with replace/add/remove/mode/symlink changes and preserved user files', async () => {
  const s = await scenario('update', TREE_V1, TREE_V2, USER_FILES);
  const ref = reference(s);
  const labels = ref.points;
  const mustHave = [labels.indexOf('journal committed') + 1, labels.indexOf('journal apply done') + 1];
  runMatrix(s, ref, mustHave);
});

test('crash matrix (c): heavy add/remove update', async () => {
  const v1 = heavy(['a', 'b', 'c', 'd'], 12, 'v1');
  const v2 = heavy(['c', 'd', 'e', 'f'], 12, 'v2');
  const s = await scenario('heavy', v1, v2, { 'logs/x.log': 'user log' });
  const ref = reference(s);
  runMatrix(s, ref);
});

test('crash matrix (b) with recover --forward: every crash point ends old or new, and new once the plan is journaled and staged', async () => {
  const s = await scenario('forward-matrix', TREE_V1, TREE_V2, USER_FILES);
  const ref = reference(s);
  const K = ref.points.length;
  const planned = ref.points.indexOf('journal apply intents') + 1;
  const committed = ref.points.indexOf('journal committed') + 1;
  const bad: string[] = [];
  let forward = 0;
  for (const i of sample(K, [planned, planned + 1, committed - 1])) {
    const out = crashAt(s, ref, i, { forward: true });
    if (!out.ok) bad.push(`crash point ${i} (${ref.points[i - 1]}): ${out.problems.join('; ')}`);
    if (i >= planned && out.which !== 'new') bad.push(`crash point ${i}: the plan was journaled and staged, yet --forward ended ${out.which}`);
    if (out.which === 'new') forward++;
  }
  console.log(`  forward-matrix: ${bad.length === 0 ? 'all' : 'NOT all'} crash points consistent with --forward (${forward} ended new)`);
  assert.equal(bad, [], bad.join('\n'));
});

test('crashes inside recover: a second recover gives the same result', async () => {
  const s = await scenario('recover-crash', TREE_V1, TREE_V2, USER_FILES);
  const ref = reference(s);
  const labels = ref.points;
  // Apply crashes: mid-apply (undo needed), and after commit (cleanup to finish).
  const midApply = labels.findIndex((l, i) => l.startsWith('after rename') && labels.slice(0, i).includes('journal state applying')) + 5;
  const afterCommit = labels.indexOf('journal committed') + 3;
  const inStaging = labels.findIndex((l) => l.startsWith('after write')) + 1;
  const bad: string[] = [];
  let tried = 0;
  for (const ap of [inStaging, midApply, afterCommit]) {
    const rp = recoverPoints(s, ap);
    assert.ok(rp.length > 0, `recover after crash ${ap} passes crash points`);
    for (const j of sample(rp.length)) {
      tried++;
      const out = crashAt(s, ref, ap, { recoverCrashAt: j });
      if (!out.ok) bad.push(`apply crash ${ap} (${labels[ap - 1]}), recover crash ${j} (${rp[j - 1]}): ${out.problems.join('; ')}`);
    }
  }
  console.log(`  recover-crash: ${tried - bad.length}/${tried} recover crash points consistent`);
  assert.equal(bad, [], bad.join('\n'));
});

// --- one regression test per crash window ------------------------------------------------------

async function pinned(label: (labels: string[]) => number, expect: 'old' | 'new'): Promise<void> {
  const s = await scenario('pinned', TREE_V1, TREE_V2, USER_FILES);
  const ref = reference(s);
  const i = label(ref.points);
  assert.ok(i >= 1, 'the crash point exists');
  const out = crashAt(s, ref, i);
  assert.equal(out.problems, []);
  assert.is(out.which, expect);
  assert.is(applyAgainReachesNew(s, ref), undefined);
}

test('crash after the apply intents are journaled but before the first op: recover restores the old version', async () => {
  await pinned((l) => l.indexOf('journal apply intents') + 1, 'old');
});

test('crash after an op ran but before it was marked done: recover undoes it from the filesystem', async () => {
  await pinned((l) => {
    const done = l.indexOf('journal apply done');
    for (let i = done - 1; i >= 0; i--) if (l[i]!.startsWith('after rename')) return i + 1;
    return -1;
  }, 'old');
});

test('crash between the last placement and the commit record: recover restores the old version', async () => {
  await pinned((l) => l.indexOf('journal apply done') + 1, 'old');
});

test('crash after the commit point before cleanup: recover finishes at the new version', async () => {
  await pinned((l) => l.indexOf('journal committed') + 1, 'new');
});

test('crash during recover\'s undo (mid rename back): a second recover restores the old version', async () => {
  const s = await scenario('pinned-undo', TREE_V1, TREE_V2, USER_FILES);
  const ref = reference(s);
  const ap = ref.points.indexOf('journal apply done');
  const rp = recoverPoints(s, ap);
  const j = rp.findIndex((l) => l.startsWith('after rename')) + 1;
  assert.ok(j >= 1);
  const out = crashAt(s, ref, ap, { recoverCrashAt: j });
  assert.equal(out.problems, []);
  assert.is(out.which, 'old');
});

test('recover --forward after a crash mid-apply finishes the update at the new version', async () => {
  const s = await scenario('forward', TREE_V1, TREE_V2, USER_FILES);
  const ref = reference(s);
  const labels = ref.points;
  const mid = labels.findIndex((l, i) => l.startsWith('after rename') && labels.slice(0, i).includes('journal state applying')) + 4;
  restore(s);
  const a = runCli(['apply', s.m2, '--target', targetOf(s), '--quiet'], { env: { CODEMATE_TXN_CRASH_AT: String(mid) } });
  assert.is(a.signal, 'SIGKILL');
  const r = runCli(['recover', '--forward', '--target', targetOf(s), '--json']);
  assert.is(r.code, 0, r.stderr);
  assert.is(JSON.parse(r.stdout).recovered[0].action, 'rolled-forward');
  assert.equal(check(s, ref, r).which, 'new');
  assert.equal(check(s, ref, r).problems, []);
});

test('recover --forward when a staged file is gone falls back to undo: the old version', async () => {
  const s = await scenario('forward-missing', TREE_V1, TREE_V2, USER_FILES);
  const ref = reference(s);
  const i = ref.points.indexOf('journal state applying') + 1;
  restore(s);
  runCli(['apply', s.m2, '--target', targetOf(s), '--quiet'], { env: { CODEMATE_TXN_CRASH_AT: String(i) } });
  const staging = path.join(s.work, 'inst', 'app.staging');
  const staged = fs.readdirSync(staging).filter((n) => n !== '.codemate-version' && fs.lstatSync(path.join(staging, n)).isFile());
  assert.ok(staged.length > 0);
  fs.rmSync(path.join(staging, staged[0]!));
  const r = runCli(['recover', '--forward', '--target', targetOf(s), '--json']);
  assert.is(r.code, 0, r.stderr);
  assert.is(JSON.parse(r.stdout).recovered[0].action, 'rolled-back');
  assert.match(JSON.parse(r.stdout).recovered[0].notes[0], /could not roll forward, so rolled back instead: /);
  assert.equal(check(s, ref, r).which, 'old');
});

test('recover with nothing interrupted says so and exits 0', async () => {
  const s = await scenario('nothing', TREE_V1, TREE_V2, {});
  const r = runCli(['recover', '--target', targetOf(s)]);
  assert.is(r.code, 0);
  assert.match(r.stdout, /no interrupted transaction/);
});

test.run();
