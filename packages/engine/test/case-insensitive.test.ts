/**
 * Case-only renames between versions (Readme.md → README.md) on a real case-insensitive disk, as
 * macOS and Windows users have: a FUSE mount of testkit's casefold-fs.py, since this kernel has
 * no ext4 casefold. On such a disk the old and the new spelling are one file (one inode), so a
 * naive updater that installs README.md and then deletes Readme.md deletes the new file. The pure
 * plan tests (packages/plan) cover the same cases by simulation where no mount is possible; these
 * run the real CLI end to end, crashes included. Skipped, with the reason printed, where FUSE or
 * python3-fusepy is missing (.ci/run installs them).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cleanupTemps, makeRelease, makeTree, mountCaseInsensitive, runCli, snapshotTree, tempDir, type CaseInsensitiveMount, type TreeSpec } from '@codemate-txn/testkit';
import { crashAt, reference, prepare, sample, type Scenario } from './crash-harness.js';

const V1: TreeSpec = {
  'Readme.md': 'old readme\n',
  'LICENSE.txt': 'mit\n',
  'src/Main.js': 'main 1\n',
  'src/util.js': 'util 1\n',
  'keep.txt': 'same\n',
};
const V2: TreeSpec = {
  'README.md': 'new readme\n', // case and content change
  'License.txt': 'mit\n', // case-only change, same bytes
  'src/main.js': 'main 2\n',
  'src/util.js': 'util 2\n',
  'keep.txt': 'same\n',
};
const USER: TreeSpec = { 'user_data/Notes.db': 'mine', '.env': 'TOKEN=x' };

let mount: CaseInsensitiveMount | undefined;
let unavailable = '';
let rel: string;
let m1: string;
let m2: string;

test.before(async () => {
  const m = await mountCaseInsensitive();
  if ('unavailable' in m) unavailable = m.unavailable;
  else mount = m;
  rel = tempDir();
  m1 = await makeRelease(path.join(rel, 'rel-1'), { app: 'case', version: '1.0.0', tree: V1 });
  m2 = await makeRelease(path.join(rel, 'rel-2'), { app: 'case', version: '2.0.0', tree: V2 });
});
test.after(async () => {
  await mount?.unmount();
  cleanupTemps();
});

/** Runs body on the mount, or says why it cannot (the simulated cases in packages/plan still run). */
function onCaseInsensitiveDisk(name: string, body: (dir: string) => void | Promise<void>): void {
  test(name, async () => {
    if (!mount) {
      console.log(`  skipped (no case-insensitive disk here: ${unavailable}): ${name}`);
      return;
    }
    await body(fs.mkdtempSync(path.join(mount.dir, 'w-')));
  });
}

/** SQLite's WAL shared memory cannot be mapped on a FUSE file (SIGBUS): journals live off the mount. */
const journalFor = (): string => path.join(tempDir(), 'app.journal.db');
const listing = (dir: string): string[] => snapshotTree(dir, { exclude: (p) => p === '.codemate-version' || p === 'user_data' || p === '.env' });

onCaseInsensitiveDisk('the mount is case-insensitive and case-preserving (else these tests prove nothing)', (dir) => {
  fs.writeFileSync(path.join(dir, 'Readme.md'), 'x');
  assert.is(fs.readFileSync(path.join(dir, 'README.md'), 'utf8'), 'x');
  assert.is(fs.lstatSync(path.join(dir, 'README.md')).ino, fs.lstatSync(path.join(dir, 'Readme.md')).ino);
  assert.equal(fs.readdirSync(dir), ['Readme.md']);
});

onCaseInsensitiveDisk('case-only renames between versions end with exactly the new spellings and bytes; user files untouched', (dir) => {
  const target = path.join(dir, 'app');
  const j = ['--journal', journalFor()];
  let r = runCli(['apply', m1, '--target', target, ...j, '--quiet']);
  assert.is(r.code, 0, r.stderr);
  makeTree(target, USER);
  r = runCli(['apply', m2, '--target', target, ...j, '--json']);
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { counts: { installed: number; replaced: number; removed: number; unchanged: number } };
  assert.equal(listing(target), snapshotTree(path.join(rel, 'rel-2', 'files')), 'exactly the new release: new spellings, new bytes');
  assert.equal(fs.readdirSync(target).sort(), ['.codemate-version', '.env', 'License.txt', 'README.md', 'keep.txt', 'src', 'user_data']);
  assert.equal(fs.readdirSync(path.join(target, 'src')).sort(), ['main.js', 'util.js']);
  assert.is(fs.readFileSync(path.join(target, 'user_data', 'Notes.db'), 'utf8'), 'mine');
  assert.is(fs.readFileSync(path.join(target, '.env'), 'utf8'), 'TOKEN=x');
  assert.is(out.counts.removed, 0, 'nothing is removed: each old spelling is the file that was replaced');
  const v = runCli(['verify', '--target', target, ...j]);
  assert.is(v.code, 0, `verify is clean after the update: ${v.stdout}${v.stderr}`);
  assert.equal(fs.readdirSync(dir), ['app'], 'no staging or backup left');
});

onCaseInsensitiveDisk('a directory renamed only by case (Docs/ → docs/): every file reachable with the new bytes, verify clean, nothing lost', async (dir) => {
  const r1 = await makeRelease(path.join(rel, `dirs-${path.basename(dir)}-1`), { app: 'dirs', version: '1.0.0', tree: { 'Docs/Guide.md': 'g1\n', 'Docs/Same.md': 's\n' } });
  const r2 = await makeRelease(path.join(rel, `dirs-${path.basename(dir)}-2`), { app: 'dirs', version: '2.0.0', tree: { 'docs/Guide.md': 'g2\n', 'docs/Same.md': 's\n' } });
  const target = path.join(dir, 'app');
  const j = ['--journal', journalFor()];
  assert.is(runCli(['apply', r1, '--target', target, ...j, '--quiet']).code, 0);
  const r = runCli(['apply', r2, '--target', target, ...j, '--quiet']);
  assert.is(r.code, 0, r.stderr);
  assert.is(fs.readFileSync(path.join(target, 'docs', 'Guide.md'), 'utf8'), 'g2\n');
  assert.is(fs.readFileSync(path.join(target, 'docs', 'Same.md'), 'utf8'), 's\n');
  // The directory itself keeps the spelling it has on disk (its files are what the engine moves).
  assert.equal(fs.readdirSync(target).filter((n) => n !== '.codemate-version').map((n) => n.toLowerCase()), ['docs']);
  assert.equal(fs.readdirSync(path.join(target, 'docs')).sort(), ['Guide.md', 'Same.md']);
  const v = runCli(['verify', '--target', target, ...j]);
  assert.is(v.code, 0, v.stdout + v.stderr);
});

onCaseInsensitiveDisk('a failure after the old spellings were moved to the backup rolls back to exactly the old spellings', (dir) => {
  // The same update twice: once to learn which mutation places README.md, once failing there
  // (EIO), when Readme.md and LICENSE.txt are already in the backup.
  const journals = new Map<string, string[]>();
  const j = (target: string): string[] => {
    if (!journals.has(target)) journals.set(target, ['--journal', journalFor()]);
    return journals.get(target)!;
  };
  const install = (target: string): void => {
    assert.is(runCli(['apply', m1, '--target', target, ...j(target), '--quiet']).code, 0);
    makeTree(target, USER);
  };
  const probe = path.join(dir, 'a', 'app');
  const target = path.join(dir, 'b', 'app');
  install(probe);
  install(target);
  const points = path.join(dir, 'points.txt');
  assert.is(runCli(['apply', m2, '--target', probe, ...j(probe), '--quiet'], { env: { CODEMATE_TXN_CRASHPOINTS_OUT: points } }).code, 0);
  const mutations = fs.readFileSync(points, 'utf8').trim().split('\n').map((l) => l.split('\t')[1]!).filter((l) => l.startsWith('before '));
  const n = mutations.findIndex((l) => l.startsWith('before rename') && l.endsWith(`-> ${path.join(probe, 'README.md')}`)) + 1;
  assert.ok(n > 0, 'the update places README.md by a rename');
  assert.ok(mutations.slice(0, n).some((l) => l.startsWith(`before rename ${path.join(probe, 'Readme.md')} -> `)), 'Readme.md went to the backup before that');
  const before = snapshotTree(target);
  const r = runCli(['apply', m2, '--target', target, ...j(target), '--json'], { env: { CODEMATE_TXN_FAIL_AT: `${n}:EIO` } });
  assert.is(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, 'EIO');
  assert.equal(snapshotTree(target), before, 'exactly the old tree, old spellings included');
  assert.equal(fs.readdirSync(path.dirname(target)), ['app'], 'no staging or backup left');
});

onCaseInsensitiveDisk('case-only rename update killed at every crash point: recover ends exactly old or new', (dir) => {
  const s: Scenario = { name: 'case-only', work: dir, m1, m2, userFiles: USER, journal: journalFor() };
  prepare(s);
  const ref = reference(s);
  const k = ref.points.length;
  const bad: string[] = [];
  const ended = { old: 0, new: 0 };
  for (const i of sample(k)) {
    const o = crashAt(s, ref, i);
    if (o.which === 'old' || o.which === 'new') ended[o.which]++;
    if (!o.ok) bad.push(`#${i} ${ref.points[i - 1]}: ${o.problems.join('; ')}`);
  }
  const tried = sample(k).length;
  console.log(`  case-only rename on a case-insensitive disk: ${tried - bad.length}/${tried} crash points consistent (K=${k}); ended old ${ended.old}, new ${ended.new}`);
  assert.equal(bad, []);
});

onCaseInsensitiveDisk('the same, recovered with --forward: every crash point ends exactly old or new', (dir) => {
  const s: Scenario = { name: 'case-only-forward', work: dir, m1, m2, userFiles: USER, journal: journalFor() };
  prepare(s);
  const ref = reference(s);
  const bad: string[] = [];
  const tried = sample(ref.points.length);
  for (const i of tried) {
    const o = crashAt(s, ref, i, { forward: true });
    if (!o.ok) bad.push(`#${i} ${ref.points[i - 1]}: ${o.problems.join('; ')}`);
  }
  console.log(`  case-only rename, recover --forward: ${tried.length - bad.length}/${tried.length} crash points consistent`);
  assert.equal(bad, []);
});

test.run();
