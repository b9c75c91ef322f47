/**
 * Property test (issue 5): generated manifests with hostile paths and symlink targets, applied to
 * generated pre-existing trees that hold symlinks pointing outside the target. Property: the run
 * refuses (exit 2 for bad input, exit 1 for an unsafe tree) or succeeds, and in every case nothing
 * outside the target and its own staging/backup/journal is created, changed or deleted, and the
 * preserved-files fingerprint never changes (no rogue writer runs here).
 * Seeded and reproducible: CODEMATE_TXN_FUZZ_SEED, CODEMATE_TXN_FUZZ_CASES (default 2000).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createHash } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { apply, loadManifestFile } from '@codemate-txn/engine';
import { tempDir, cleanupTemps, makeTree, snapshotTree } from '@codemate-txn/testkit';
import { ctxWith } from './helpers.js';

test.after(cleanupTemps);

const CASES = Number(process.env.CODEMATE_TXN_FUZZ_CASES ?? 2000);
const SEED = Number(process.env.CODEMATE_TXN_FUZZ_SEED ?? 20261203);

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEGMENTS = [
  'a', 'b', 'sub', 'lib', 'Readme.md', 'README.md', '..', '.', '', ' ', 'x ', 'y.', 'con', 'CON.txt', 'nul', 'Com1.log',
  'aux', 'a:b', 'a\\b', 'é', 'e\u0301', 'ß', 'SS', 'ss', 'a'.repeat(256), '\u0000', '\u0007', '\u001f', '~', '-', '.codemate-version',
  'user_data', 'logs', '.env', 'x.key', '%2e%2e', 'C:', 'out', 'link', 'd', 'D', '.hidden', 'staging', 'backup_x', '\u200b',
];
const TARGETS = ['v1', 'sub', '../x', '../../outside', '/etc', '/tmp', 'a/../../..', 'link/..', 'd/../../out', 'C:\\x', '.', 'a/b/c', '../app/a'];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

function genPath(r: () => number): string {
  const n = 1 + Math.floor(r() * 3);
  // Half the segments benign, so a fair share of manifests get as far as the disk.
  const segs = Array.from({ length: n }, () => (r() < 0.5 ? pick(r, ['a', 'b', 'sub', 'lib', 'link', 'd', 'out', 'logs', 'README.md']) : pick(r, SEGMENTS)));
  let p = segs.join('/');
  const prefix = r();
  if (prefix < 0.05) p = '/' + p;
  else if (prefix < 0.08) p = 'C:/' + p;
  else if (prefix < 0.1) p = '//server/' + p;
  else if (prefix < 0.12) p = p + '/';
  return p;
}

interface Box {
  root: string;
  outside: string;
  target: string;
  release: string;
}

/** The sentinel world around the target: files that must never change. */
function makeBox(r: () => number, i: number, base: string): Box {
  const root = path.join(base, `case-${i}`);
  const outside = path.join(root, 'outside');
  makeTree(outside, { 'secret.txt': 'do not touch', 'dir/inner.txt': 'inner', 'app.txt': 'outside app' });
  const target = path.join(root, 'inst', 'app');
  fs.mkdirSync(path.join(root, 'inst'), { recursive: true });
  if (r() < 0.6) {
    // A pre-existing tree with symlinks pointing outside, at names manifests like to use.
    const spec: Record<string, string | { symlink: string } | { dir: true }> = {};
    const k = 1 + Math.floor(r() * 4);
    for (let j = 0; j < k; j++) {
      const name = pick(r, ['a', 'b', 'sub', 'lib', 'link', 'd', 'out', 'logs', 'user_data', 'README.md', 'Readme.md']);
      const kind = r();
      if (kind < 0.5) spec[name] = { symlink: pick(r, [outside, path.join(outside, 'dir'), path.join(outside, 'secret.txt'), '../../outside', '../../outside/dir']) };
      else if (kind < 0.75) spec[name] = `pre-existing ${name}`;
      else spec[name] = { dir: true };
    }
    makeTree(target, spec);
  }
  const release = path.join(root, 'rel');
  fs.mkdirSync(release, { recursive: true });
  return { root, outside, target, release };
}

function genManifest(r: () => number, box: Box): string {
  const n = 1 + Math.floor(r() * 5);
  const files: unknown[] = [];
  for (let j = 0; j < n; j++) {
    const kind = r();
    const p = genPath(r);
    if (kind < 0.6) {
      const content = `blob ${j} ${p}`;
      const blob = path.join(box.release, `blob-${j}`);
      fs.writeFileSync(blob, content);
      files.push({ path: p, size: Buffer.byteLength(content), sha256: createHash('sha256').update(content).digest('hex'), mode: pick(r, ['644', '755', '600']), url: pathToFileURL(blob).href });
    } else if (kind < 0.85) {
      files.push({ path: p, type: 'symlink', target: pick(r, TARGETS) });
    } else {
      files.push({ path: p, type: 'dir' });
    }
  }
  const m = { schemaVersion: 1, app: 'fuzz', version: '1.0.0', source: './files', files };
  const file = path.join(box.release, 'manifest.json');
  fs.writeFileSync(file, JSON.stringify(m));
  return file;
}

/** Everything in the box outside the target's own places. */
function world(box: Box): string[] {
  const own = /^inst\/(app|app\.staging|backup_staging|app\.journal\.db[^/]*)(\/|$)/;
  return snapshotTree(box.root, { exclude: (rel) => rel === 'rel' || own.test(rel) });
}

test(`fuzz: ${CASES} hostile manifests and trees, seed ${SEED}: refused or applied, nothing outside the target touched`, async () => {
  const base = tempDir('fuzz-');
  const r = rng(SEED);
  const outcomes: Record<string, number> = {};
  const escapes: string[] = [];
  for (let i = 0; i < CASES; i++) {
    const box = makeBox(r, i, base);
    const manifest = genManifest(r, box);
    const before = world(box);
    let outcome: string;
    try {
      const loaded = await loadManifestFile(manifest, box.root);
      await apply(loaded, { target: box.target }, ctxWith());
      outcome = 'applied';
    } catch (e: unknown) {
      const ex = e as { exitCode?: number; code?: string };
      if (ex.exitCode !== 2 && ex.exitCode !== 1) escapes.push(`case ${i}: unexpected ${ex.code ?? ''} ${(e as Error).message}`);
      // Nothing else writes here: a changed fingerprint means the engine touched a preserved path
      // (or misjudged one), which the plan must refuse up front instead.
      if (ex.code === 'E_PRESERVE_CHANGED') escapes.push(`case ${i} (seed ${SEED}): ${(e as Error).message}\n  manifest: ${fs.readFileSync(manifest, 'utf8')}`);
      outcome = `${ex.exitCode}:${ex.code}`;
      if (process.env.CODEMATE_TXN_FUZZ_VERBOSE && ex.code === 'E_FS') console.log(`  case ${i}: ${(e as Error).message}`);
    }
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    const after = world(box);
    if (JSON.stringify(after) !== JSON.stringify(before)) {
      const b = new Set(before);
      const a = new Set(after);
      const diff = [...after.filter((l) => !b.has(l)).map((l) => `+ ${l}`), ...before.filter((l) => !a.has(l)).map((l) => `- ${l}`)];
      escapes.push(`case ${i} (seed ${SEED}, ${outcome}): outside the target changed: ${diff.slice(0, 5).join('; ')}\n  manifest: ${fs.readFileSync(manifest, 'utf8')}`);
    }
    fs.rmSync(box.root, { recursive: true, force: true });
  }
  const summary = Object.entries(outcomes).sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ${v}`).join(', ');
  console.log(`  fuzz: ${CASES} cases, ${escapes.length} escapes; outcomes: ${summary}`);
  assert.equal(escapes, [], escapes.slice(0, 5).join('\n'));
  assert.ok((outcomes.applied ?? 0) > CASES / 50, 'a fair share of cases got as far as applying');
});

test.run();
