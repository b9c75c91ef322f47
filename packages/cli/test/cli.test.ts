/**
 * The codemate-txn command as a user runs it: real child processes (runCli), exit codes of
 * DESIGN §7, one JSON object with --json, silence with --quiet, and bad manifests refused with
 * exit 2 and a message naming the entry, nothing touched. Worlds are set up in-process with the
 * library (fast); only the behaviour under test goes through the CLI.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { apply, defaultContext } from '@codemate-txn/engine';
import { loadManifestFile } from '@codemate-txn/manifest';
import { tempDir, makeTree, makeRelease, snapshotTree, readTree, runCli, cleanupTemps, type TreeSpec, type CliResult } from '@codemate-txn/testkit';

test.after(cleanupTemps);

const V1: TreeSpec = {
  'a.txt': 'a1\n',
  'bin/run': { content: '#!/bin/sh\necho 1\n', mode: 0o755 },
  'lib/current': { symlink: 'v1' },
  'lib/v1/x.js': 'x\n',
  'sub/b.txt': 'b1\n',
};
const V2: TreeSpec = {
  'a.txt': 'a2\n',
  'bin/run': { content: '#!/bin/sh\necho 2\n', mode: 0o755 },
  'extras/notes.txt': 'release notes\n',
  'lib/current': { symlink: 'v2' },
  'lib/v2/y.js': 'y\n',
  'sub/b.txt': 'b1\n',
};

interface World {
  work: string;
  m1: string;
  m2: string;
  /** <work>/inst/app: absent until installed. */
  target: string;
  /** <work>/inst: the target, its journal, lock, staging and backup all live here. */
  parent: string;
}

async function world(): Promise<World> {
  const work = tempDir();
  const m1 = await makeRelease(path.join(work, 'rel-1'), { app: 'demo', version: '1.0.0', tree: V1 });
  const m2 = await makeRelease(path.join(work, 'rel-2'), { app: 'demo', version: '2.0.0', tree: V2 });
  return { work, m1, m2, target: path.join(work, 'inst', 'app'), parent: path.join(work, 'inst') };
}

/** A world with v1 installed (through the library: the CLI is what the tests exercise). */
async function installed(): Promise<World> {
  const w = await world();
  await apply(await loadManifestFile(w.m1, w.work), { target: w.target }, defaultContext({}));
  return w;
}

const snap = (dir: string): string[] => (fs.existsSync(dir) ? snapshotTree(dir) : ['<absent>']);

/** stdout must be exactly one JSON object (JSON.parse fails on two, or on trailing text). */
function oneJson(r: CliResult): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(r.stdout);
  } catch (e: unknown) {
    throw new Error(`stdout is not one JSON object: ${String(e)}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`);
  }
  assert.type(v, 'object');
  assert.ok(v !== null && !Array.isArray(v));
  return v as Record<string, unknown>;
}

const show = (r: CliResult): string => `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;

// --- usage ---------------------------------------------------------------------------------

test('--help exits 0 and lists every command and the exit codes', () => {
  const r = runCli(['--help']);
  assert.is(r.code, 0, show(r));
  for (const cmd of ['apply', 'recover', 'status', 'log', 'show', 'verify', 'manifest']) {
    assert.match(r.stdout, new RegExp(`^\\s+${cmd}\\b`, 'm'), `--help lists ${cmd}`);
  }
  assert.match(r.stdout, /Exit codes/);
});

test('unknown command → exit 2, the message names it', () => {
  const r = runCli(['frobnicate']);
  assert.is(r.code, 2, show(r));
  assert.match(r.stderr, /frobnicate/);
  assert.is(r.stdout, '');
});

test('unknown option → exit 2, the message names it, nothing created', async () => {
  const w = await world();
  const r = runCli(['apply', w.m1, '--target', w.target, '--frobnicate']);
  assert.is(r.code, 2, show(r));
  assert.match(r.stderr, /--frobnicate/);
  assert.not.ok(fs.existsSync(w.parent), 'no target, no journal');
});

// --- invalid manifests ----------------------------------------------------------------------

interface BadCase {
  name: string;
  code: string;
  /** Turns a good manifest text into the bad one. */
  make: (good: Record<string, unknown>) => string;
  /** What the message must name. */
  names: string[];
  /** The entry path, when the error is about one entry. */
  path?: string;
}

const withPath = (p: string) => (good: Record<string, unknown>): string => {
  const m = structuredClone(good) as { files: Array<Record<string, unknown>> };
  m.files[1]!.path = p;
  return JSON.stringify(m, null, 2);
};

const BAD: BadCase[] = [
  {
    name: 'bad JSON', code: 'E_MANIFEST_JSON',
    make: (good) => JSON.stringify(good, null, 2).replace(/,\n(\s*)"version"/, '\n$1"version"'),
    names: ['bad.json', 'line 4'],
  },
  {
    name: 'schema error: a file entry without sha256', code: 'E_MANIFEST_SCHEMA',
    make: (good) => {
      const m = structuredClone(good) as { files: Array<Record<string, unknown>> };
      delete m.files[1]!.sha256;
      return JSON.stringify(m);
    },
    names: ['files[1]', 'sha256'], path: 'bin/run',
  },
  { name: "path with '..'", code: 'E_PATH_DOTDOT', make: withPath('../x'), names: ['files[1]', '..'], path: '../x' },
  { name: 'absolute path', code: 'E_PATH_ABSOLUTE', make: withPath('/abs/x'), names: ['files[1]', 'absolute'], path: '/abs/x' },
  { name: 'backslash', code: 'E_PATH_BACKSLASH', make: withPath('sub\\x'), names: ['files[1]', 'backslash'], path: 'sub\\x' },
  { name: 'empty segment', code: 'E_PATH_EMPTY_SEGMENT', make: withPath('sub//x'), names: ['files[1]', 'empty segment'], path: 'sub//x' },
];

for (const c of BAD) {
  test(`invalid manifest (${c.name}) → exit 2, ${c.code}, message names the entry, nothing touched`, async () => {
    const w = await installed();
    const good = JSON.parse(fs.readFileSync(w.m1, 'utf8')) as Record<string, unknown>;
    const bad = path.join(w.work, 'rel-1', 'bad.json');
    fs.writeFileSync(bad, c.make(good));
    const before = snap(w.parent);

    const human = runCli(['apply', bad, '--target', w.target]);
    assert.is(human.code, 2, show(human));
    assert.is(human.stdout, '');
    assert.ok(human.stderr.includes(c.code), `stderr names the code: ${human.stderr}`);
    for (const n of c.names) assert.ok(human.stderr.includes(n), `stderr names ${JSON.stringify(n)}: ${human.stderr}`);
    if (c.path !== undefined) assert.ok(human.stderr.includes(JSON.stringify(c.path)), `stderr names the path ${JSON.stringify(c.path)}: ${human.stderr}`);
    assert.match(human.stderr, /what to do/);

    const json = runCli(['apply', bad, '--target', w.target, '--json']);
    assert.is(json.code, 2, show(json));
    const o = oneJson(json);
    assert.is(o.ok, false);
    assert.is(o.exitCode, 2);
    const err = o.error as { code: string; message: string; details: Record<string, unknown> };
    assert.is(err.code, c.code);
    for (const n of c.names) assert.ok(err.message.includes(n), `message names ${JSON.stringify(n)}: ${err.message}`);
    if (c.path !== undefined) {
      assert.is(err.details.index, 1);
      assert.is(err.details.path, c.path);
    }
    assert.equal(snap(w.parent), before, 'target, journal and everything beside them untouched');
  });
}

// --- apply output modes ---------------------------------------------------------------------

test('apply --json prints one JSON object with the counts, and no progress on stderr', async () => {
  const w = await world();
  const r = runCli(['apply', w.m1, '--target', w.target, '--json']);
  assert.is(r.code, 0, show(r));
  const o = oneJson(r);
  assert.is(o.ok, true);
  assert.is(o.kind, 'install');
  assert.is(o.toVersion, '1.0.0');
  assert.is(o.txnId, 1);
  assert.equal(o.counts, { installed: Object.keys(V1).length, replaced: 0, removed: 0, unchanged: 0, preserved: 0, chmod: 0 });
  assert.is(r.stderr, '');
  assert.equal(snapshotTree(w.target, { exclude: (p) => p === '.codemate-version' }), snapshotTree(path.join(w.work, 'rel-1', 'files')));
});

test('apply --quiet prints nothing on success; --preserve keeps a user file the release ships', async () => {
  const w = await installed();
  makeTree(w.target, { 'extras/notes.txt': 'my own notes\n' });
  const r = runCli(['apply', w.m2, '--target', w.target, '--quiet', '--preserve', 'extras/']);
  assert.is(r.code, 0, show(r));
  assert.is(r.stdout, '');
  assert.is(r.stderr, '');
  const files = readTree(w.target);
  assert.is(files['a.txt'], 'a2\n');
  assert.is(files['extras/notes.txt'], 'my own notes\n');
  assert.is(fs.readFileSync(path.join(w.target, '.codemate-version'), 'utf8'), '2.0.0\n');
});

test('apply --dry-run --json lists the paths of the plan and changes nothing', async () => {
  const w = await installed();
  const before = snap(w.parent);
  const r = runCli(['apply', w.m2, '--target', w.target, '--dry-run', '--json']);
  assert.is(r.code, 0, show(r));
  const o = oneJson(r);
  assert.is(o.dryRun, true);
  assert.is(o.kind, 'update');
  const p = o.paths as Record<string, string[]>;
  assert.equal([...p.install!].sort(), ['extras/notes.txt', 'lib/v2/y.js']);
  assert.equal([...p.replace!].sort(), ['a.txt', 'bin/run', 'lib/current']);
  assert.equal(p.delete, ['lib/v1/x.js']);
  assert.equal(p.unchanged, ['sub/b.txt']);
  assert.equal(snap(w.parent), before, 'nothing changed, the journal included');
});

test('apply --dry-run --json into a missing target creates nothing, not even the journal', async () => {
  const w = await world();
  const r = runCli(['apply', w.m1, '--target', w.target, '--dry-run', '--json']);
  assert.is(r.code, 0, show(r));
  const o = oneJson(r);
  assert.equal([...(o.paths as { install: string[] }).install].sort(), Object.keys(V1).sort());
  assert.not.ok(fs.existsSync(w.parent));
});

// --- manifest build -------------------------------------------------------------------------

test('manifest build: -o and stdout agree, the manifest round-trips through apply', async () => {
  const work = tempDir();
  const files = makeTree(path.join(work, 'rel', 'files'), V1);
  const out = path.join(work, 'rel', 'manifest.json');
  const b = runCli(['manifest', 'build', files, '--app', 'demo', '--version', '1.2.3', '-o', out]);
  assert.is(b.code, 0, show(b));
  const s = runCli(['manifest', 'build', files, '--app', 'demo', '--version', '1.2.3'], { cwd: path.join(work, 'rel') });
  assert.is(s.code, 0, show(s));
  assert.is(s.stdout, fs.readFileSync(out, 'utf8'), 'stdout and -o give the same manifest');
  const m = JSON.parse(s.stdout) as { app: string; version: string; source: string; files: Array<{ path: string }> };
  assert.is(m.app, 'demo');
  assert.is(m.version, '1.2.3');
  assert.is(m.source, './files');
  assert.equal(m.files.map((f) => f.path).sort(), Object.keys(V1).sort());

  const target = path.join(work, 'inst', 'app');
  const a = runCli(['apply', out, '--target', target, '--quiet']);
  assert.is(a.code, 0, show(a));
  assert.equal(snapshotTree(target, { exclude: (p) => p === '.codemate-version' }), snapshotTree(files));
  assert.is(fs.readFileSync(path.join(target, '.codemate-version'), 'utf8'), '1.2.3\n');
});

test('manifest build without --source names the built directory relative to the -o file (a tree not called files/ installs)', async () => {
  const work = tempDir();
  const files = makeTree(path.join(work, 'releases', 'pkg-1.2.3'), V1);
  const out = path.join(work, 'manifests', 'demo.json');
  fs.mkdirSync(path.dirname(out));
  const b = runCli(['manifest', 'build', files, '--app', 'demo', '--version', '1.2.3', '-o', out, '--json']);
  assert.is(b.code, 0, show(b));
  const said = JSON.parse(b.stdout) as { output: string; entries: number; source: string };
  assert.equal(said, { ok: true, output: out, app: 'demo', version: '1.2.3', entries: Object.keys(V1).length, source: '../releases/pkg-1.2.3' });
  assert.is((JSON.parse(fs.readFileSync(out, 'utf8')) as { source: string }).source, '../releases/pkg-1.2.3');
  const s = runCli(['manifest', 'build', 'releases/pkg-1.2.3', '--app', 'demo', '--version', '1.2.3'], { cwd: work });
  assert.is((JSON.parse(s.stdout) as { source: string }).source, './releases/pkg-1.2.3', 'printed: relative to the current directory');
  const q = runCli(['manifest', 'build', files, '--app', 'demo', '--version', '1.2.3', '-o', out, '--quiet']);
  assert.is(q.code, 0, show(q));
  assert.is(q.stdout, '');
  const target = path.join(work, 'inst', 'app');
  const a = runCli(['apply', out, '--target', target, '--quiet']);
  assert.is(a.code, 0, show(a));
  assert.equal(snapshotTree(target, { exclude: (p) => p === '.codemate-version' }), snapshotTree(files));
});

test('manifest build of a missing directory → exit 2', () => {
  const work = tempDir();
  const r = runCli(['manifest', 'build', path.join(work, 'nope'), '--app', 'demo', '--version', '1.0.0']);
  assert.is(r.code, 2, show(r));
  assert.match(r.stderr, /nope/);
});

// --- verify, recover, status, log, show -----------------------------------------------------

test('verify: exit 0 after apply, exit 5 naming the file after it is modified', async () => {
  const w = await installed();
  const clean = runCli(['verify', '--target', w.target]);
  assert.is(clean.code, 0, show(clean));
  assert.match(clean.stdout, /clean/);
  fs.writeFileSync(path.join(w.target, 'sub/b.txt'), 'tampered\n');
  const drift = runCli(['verify', '--target', w.target, '--json']);
  assert.is(drift.code, 5, show(drift));
  const o = oneJson(drift);
  assert.is(o.ok, false);
  assert.equal((o.drift as Array<{ path: string; kind: string }>).map((d) => [d.kind, d.path]), [['modified', 'sub/b.txt']]);
});

test('recover on a clean target: nothing to do, exit 0', async () => {
  const w = await installed();
  const before = snap(w.target);
  const r = runCli(['recover', '--target', w.target]);
  assert.is(r.code, 0, show(r));
  assert.match(r.stdout, /nothing to do/);
  assert.equal(snap(w.target), before);
});

test('status, log and show 1 exit 0 and mention the version', async () => {
  const w = await installed();
  for (const args of [['status'], ['log'], ['show', '1']]) {
    const r = runCli([...args, '--target', w.target]);
    assert.is(r.code, 0, `${args.join(' ')}: ${show(r)}`);
    assert.match(r.stdout, /1\.0\.0/, `${args.join(' ')} mentions the version`);
  }
});

test('show of a transaction that does not exist → exit 2', async () => {
  const w = await installed();
  const r = runCli(['show', '99', '--target', w.target]);
  assert.is(r.code, 2, show(r));
  assert.match(r.stderr, /99/);
});

test('verify --journal FILE (a copied journal, no --target) checks the target that journal records, not ~/.codemate', async () => {
  const w = await installed();
  const copy = path.join(w.work, 'copy.journal.db');
  fs.copyFileSync(path.join(w.parent, 'app.journal.db'), copy);
  const r = runCli(['verify', '--journal', copy], { env: { HOME: path.join(w.work, 'nohome') } });
  assert.is(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, w.target);
});

test('output piped into a reader that goes away (| head) is no crash: no EPIPE stack trace', async () => {
  const w = await installed();
  const r = runCli(['log', '--target', w.target, '--jsonl']);
  assert.is(r.code, 0);
  const { spawnSync } = await import('node:child_process');
  const p = spawnSync('bash', ['-c', `"${process.execPath}" "${path.resolve(__dirname, '..', 'bin', 'codemate-txn.js')}" show 1 --target "${w.target}" | head -c 1 >/dev/null; echo "rc=\${PIPESTATUS[0]}"`], { encoding: 'utf8' });
  assert.not.match(p.stderr, /EPIPE/);
  assert.match(p.stdout, /rc=0/);
});

test.run();
