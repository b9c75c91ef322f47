#!/usr/bin/env node
// Benchmark (issue 7): codemate-txn side by side with the plain tools, in one run, alternating
// A/B, medians of N runs, fresh target directories each run (all created before any timing, all
// deleted at the end: this machine's disk slows file creation for minutes after mass deletes).
//
//   npm run bench                       everything (real pairs + synthetic 10k/50k/100k), 5 runs
//   npm run bench -- --quick            date-fns 2.29.3→2.30.0 and synthetic 10k, 3 runs
//   npm run bench -- --runs 7 --only date-fns,synthetic --sizes 10000,50000
//
// Prints a table of ratios (ours / theirs; < 1 means faster) and writes it to bench/results.md.
import { spawnSync, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const CLI = path.join(ROOT, 'packages', 'cli', 'bin', 'codemate-txn.js');
const CACHE = process.env.CODEMATE_REAL_CACHE || path.join(os.homedir(), '.cache', 'codemate-txn-real');

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : dflt;
};
const QUICK = flag('--quick');
const RUNS = Number(opt('--runs', QUICK ? '3' : '5'));
const ONLY = opt('--only', QUICK ? 'date-fns-2.30' : 'date-fns,typescript,synthetic').split(',');
const SIZES = opt('--sizes', QUICK ? '10000' : '10000,50000,100000').split(',').map(Number);
const hasTime = fs.existsSync('/usr/bin/time');

const WORK = fs.mkdtempSync(path.join(process.env.BENCH_DIR || os.tmpdir(), 'codemate-bench-'));
const log = (s) => process.stderr.write(s + '\n');

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, ...opts });
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}/${r.signal}: ${r.stderr}`);
  return r;
}

/** Runs a command, returns wall ms (and peak RSS in KiB when /usr/bin/time exists). */
function timed(cmd, args, opts = {}) {
  const t0 = process.hrtime.bigint();
  const full = hasTime ? ['/usr/bin/time', ['-f', '__RSS__%M', cmd, ...args]] : [cmd, args];
  const r = sh(full[0], full[1], opts);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const m = /__RSS__(\d+)/.exec(r.stderr ?? '');
  return { ms, rssKiB: m ? Number(m[1]) : NaN, stdout: r.stdout, status: r.status };
}

const syncAll = () => sh('sync', []);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
};

// --- releases -------------------------------------------------------------------------------------

function npmRelease(pkg, version) {
  fs.mkdirSync(CACHE, { recursive: true });
  const tgz = path.join(CACHE, `${pkg}-${version}.tgz`);
  if (!fs.existsSync(tgz)) sh('npm', ['pack', `${pkg}@${version}`, '--pack-destination', CACHE, '--silent'], { cwd: CACHE });
  const dir = path.join(WORK, 'rel', `${pkg}-${version}`);
  fs.mkdirSync(dir, { recursive: true });
  sh('tar', ['-xzf', tgz, '-C', dir, '--no-same-owner']);
  return manifestFor(dir, 'package', pkg, version);
}

function manifestFor(dir, sub, app, version) {
  sh(process.execPath, [CLI, 'manifest', 'build', `./${sub}`, '--app', app, '--version', version, '--source', `./${sub}`, '-o', 'manifest.json'], { cwd: dir });
  return { dir: path.join(dir, sub), manifest: path.join(dir, 'manifest.json'), version };
}

/** Synthetic release pair: n files in dirs of 100, 1–8 KiB; v2 changes 20%, removes 5%, adds 5%. */
function syntheticPair(n) {
  let seed = n;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const write = (root, i, tag) => {
    const p = path.join(root, `d${Math.floor(i / 100)}`, `f${i}.txt`);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    const size = 1024 + Math.floor(rnd() * 7168);
    const head = createHash('sha256').update(`${tag}:${i}`).digest('hex');
    fs.writeFileSync(p, head.repeat(Math.ceil(size / 64)).slice(0, size));
  };
  const a = path.join(WORK, 'rel', `syn-${n}-1`, 'tree');
  const b = path.join(WORK, 'rel', `syn-${n}-2`, 'tree');
  for (let i = 0; i < n; i++) write(a, i, 'v1');
  fs.mkdirSync(path.dirname(b), { recursive: true });
  sh('cp', ['-a', a, b]);
  for (let i = 0; i < n; i++) {
    const r = rnd();
    if (r < 0.2) write(b, i, 'v2');
    else if (r < 0.25) fs.rmSync(path.join(b, `d${Math.floor(i / 100)}`, `f${i}.txt`));
  }
  for (let i = n; i < n + Math.floor(n * 0.05); i++) write(b, i, 'v2');
  return [manifestFor(path.dirname(a), 'tree', `syn${n}`, '1.0.0'), manifestFor(path.dirname(b), 'tree', `syn${n}`, '2.0.0')];
}

// --- one pair ---------------------------------------------------------------------------------------

function cli(args, env = {}) {
  return [process.execPath, [CLI, ...args], { env: { ...process.env, ...env } }];
}

function benchPair(name, r1, r2) {
  log(`== ${name}: ${RUNS} runs`);
  const base = path.join(WORK, 'runs', name);
  const T = (i) => path.join(base, `ours-${i}`, 'app');
  const C = (i) => path.join(base, `cp-${i}`);
  const U = (i) => path.join(base, `upd-${i}`, 'app');
  const R = (i) => path.join(base, `rsync-${i}`);
  const K = (i) => path.join(base, `kill-${i}`, 'app');
  // Create every target before timing anything.
  for (let i = 0; i < RUNS; i++) {
    fs.mkdirSync(path.dirname(T(i)), { recursive: true });
    fs.mkdirSync(path.dirname(U(i)), { recursive: true });
    fs.mkdirSync(path.dirname(K(i)), { recursive: true });
    sh(process.execPath, [CLI, 'apply', r1.manifest, '--target', U(i), '--quiet']);
    sh(process.execPath, [CLI, 'apply', r1.manifest, '--target', K(i), '--quiet']);
    sh('cp', ['-a', r1.dir, R(i)]);
  }
  // Crash points of an uninterrupted update, for the kill-half-way recover runs.
  const ref = path.join(base, 'ref', 'app');
  fs.mkdirSync(path.dirname(ref), { recursive: true });
  sh(process.execPath, [CLI, 'apply', r1.manifest, '--target', ref, '--quiet']);
  const points = path.join(base, 'points.txt');
  sh(process.execPath, [CLI, 'apply', r2.manifest, '--target', ref, '--quiet'], { env: { ...process.env, CODEMATE_TXN_CRASHPOINTS_OUT: points } });
  const labels = fs.readFileSync(points, 'utf8').trim().split('\n');
  const applyStart = labels.findIndex((l) => l.includes('journal state applying'));
  const commitAt = labels.findIndex((l) => l.includes('journal committed'));
  const half = Math.floor((applyStart + commitAt) / 2) + 1;
  syncAll();

  const m = { install: [], cp: [], update: [], rsync: [], noop: [], rsyncNoop: [], recover: [], rssInstall: [], rssUpdate: [], stats: null };
  for (let i = 0; i < RUNS; i++) {
    // Alternate which side goes first.
    const pairs = [
      ['install', () => timed(...cli(['apply', r1.manifest, '--target', T(i), '--quiet'])), 'cp', () => timed('bash', ['-c', `cp -a "${r1.dir}" "${C(i)}" && sync`])],
      ['update', () => timed(...cli(['apply', r2.manifest, '--target', U(i), '--json'])), 'rsync', () => timed('bash', ['-c', `rsync -a --delete --checksum "${r2.dir}/" "${R(i)}/" && sync`])],
      ['noop', () => timed(...cli(['apply', r2.manifest, '--target', U(i), '--quiet'])), 'rsyncNoop', () => timed('bash', ['-c', `rsync -a --delete --checksum "${r2.dir}/" "${R(i)}/" && sync`])],
    ];
    for (const [a, fa, b, fb] of pairs) {
      syncAll();
      const [x, y] = i % 2 === 0 ? [fa(), fb()] : (() => { const yy = fb(); return [fa(), yy]; })();
      m[a].push(x.ms);
      m[b].push(y.ms);
      if (a === 'install') m.rssInstall.push(x.rssKiB);
      if (a === 'update') {
        m.rssUpdate.push(x.rssKiB);
        try {
          m.stats = JSON.parse(x.stdout).stats ?? m.stats;
          m.counts = JSON.parse(x.stdout).counts;
          m.durations = (m.durations ?? []).concat([JSON.parse(x.stdout).durationsMs]);
          m.journalMs = (m.journalMs ?? []).concat([JSON.parse(x.stdout).stats.journalMs]);
        } catch { /* no JSON */ }
      }
    }
    // Recover of an update killed half-way through its apply phase.
    const [kc, ka, ko] = cli(['apply', r2.manifest, '--target', K(i), '--quiet'], { CODEMATE_TXN_CRASH_AT: String(half) });
    sh(kc, ka, { ...ko, allowFail: true });
    syncAll();
    m.recover.push(timed(...cli(['recover', '--target', K(i), '--quiet'])).ms);
  }
  return m;
}

// --- main -------------------------------------------------------------------------------------------

const rows = [];
try {
  const pairs = [];
  if (ONLY.some((o) => o.startsWith('date-fns'))) {
    if (ONLY.includes('date-fns') || ONLY.includes('date-fns-2.30')) pairs.push(['date-fns 2.29.3→2.30.0', () => [npmRelease('date-fns', '2.29.3'), npmRelease('date-fns', '2.30.0')]]);
    if (ONLY.includes('date-fns') || ONLY.includes('date-fns-3')) pairs.push(['date-fns 2.30.0→3.0.0', () => [npmRelease('date-fns', '2.30.0'), npmRelease('date-fns', '3.0.0')]]);
  }
  if (ONLY.includes('typescript')) pairs.push(['typescript 5.5.4→5.6.3', () => [npmRelease('typescript', '5.5.4'), npmRelease('typescript', '5.6.3')]]);
  if (ONLY.includes('synthetic')) for (const n of SIZES) pairs.push([`synthetic ${n / 1000}k`, () => syntheticPair(n)]);
  for (const [name, make] of pairs) {
    try {
    const [r1, r2] = make();
    const files = Number(sh('bash', ['-c', `find "${r1.dir}" -type f | wc -l`]).stdout.trim());
    const m = benchPair(name.replace(/[^a-z0-9.]+/gi, '-'), r1, r2);
    const changed = (m.counts?.installed ?? 0) + (m.counts?.replaced ?? 0);
    rows.push({ name, files, changed, m });
    log(`   install ${median(m.install).toFixed(0)} ms vs cp ${median(m.cp).toFixed(0)} ms; update ${median(m.update).toFixed(0)} vs rsync ${median(m.rsync).toFixed(0)}; noop ${median(m.noop).toFixed(0)} vs ${median(m.rsyncNoop).toFixed(0)}`);
    } catch (e) {
      // One broken pair must not lose the others' results.
      log(`   ${name}: FAILED: ${e.message}`);
      rows.push({ name: `${name} (failed: ${String(e.message).split('\n')[0].slice(0, 80)})`, files: 0, changed: 0, m: { install: [], cp: [], update: [], rsync: [], noop: [], rsyncNoop: [], recover: [], rssInstall: [], rssUpdate: [] } });
    }
  }
} finally {
  fs.rmSync(WORK, { recursive: true, force: true });
}

const r2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const ms = (x) => (Number.isFinite(x) ? `${Math.round(x)}` : 'n/a');
const lines = [
  `# Benchmark results`,
  ``,
  `${new Date().toISOString()} · ${os.cpus().length} cores · node ${process.version} · medians of ${RUNS} runs, A/B alternating, fresh targets each run.`,
  `Ratios are codemate-txn / plain tool (lower is better). Baselines: \`cp -a && sync\` (install), \`rsync -a --delete --checksum && sync\` (update and no-op).`,
  ``,
  `| release | files | changed | install ms (cp) | ratio | update ms (rsync) | ratio | no-op ms (rsync) | ratio | recover ms | peak RSS MiB install/update | fsyncs per changed file (+ syncfs) | journal commits per update (per changed file) | journal ms in update (% of its wall time) | time/file install µs |`,
  `|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|`,
];
for (const { name, files, changed, m } of rows) {
  const st = m.stats ?? {};
  const fsyncs = (st.fileFsyncs ?? NaN) + (st.dirFsyncs ?? NaN);
  lines.push(`| ${name} | ${files} | ${changed} | ${ms(median(m.install))} (${ms(median(m.cp))}) | ${r2(median(m.install) / median(m.cp))} | ${ms(median(m.update))} (${ms(median(m.rsync))}) | ${r2(median(m.update) / median(m.rsync))} | ${ms(median(m.noop))} (${ms(median(m.rsyncNoop))}) | ${r2(median(m.noop) / median(m.rsyncNoop))} | ${ms(median(m.recover))} | ${r2(median(m.rssInstall) / 1024)} / ${r2(median(m.rssUpdate) / 1024)} | ${r2(fsyncs / Math.max(1, changed))} (+${st.syncfs ?? 0}) | ${st.journalCommits ?? 'n/a'} (${r2((st.journalCommits ?? NaN) / Math.max(1, changed))}) | ${ms(median(m.journalMs ?? []))} (${Math.round((100 * median(m.journalMs ?? [])) / median(m.update))}%) | ${r2((median(m.install) * 1000) / files)} |`);
}
const d = rows.flatMap((r) => (r.m.durations ?? []).map((x) => ({ name: r.name, ...x })));
if (d.length) {
  lines.push('', 'Update phases (median ms): plan (scan + hash), stage, apply (renames + journal), cleanup.', '', '| release | plan | stage | apply | cleanup | total |', '|---|---|---|---|---|---|');
  for (const r of rows) {
    const ds = r.m.durations ?? [];
    const md = (k) => ms(median(ds.map((x) => x[k])));
    lines.push(`| ${r.name} | ${md('plan')} | ${md('stage')} | ${md('apply')} | ${md('cleanup')} | ${md('total')} |`);
  }
}
const out = lines.join('\n') + '\n';
process.stdout.write(out);
fs.mkdirSync(path.join(ROOT, 'bench'), { recursive: true });
fs.writeFileSync(path.join(ROOT, 'bench', 'results.md'), out);
