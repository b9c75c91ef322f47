/**
 * `codemate-txn apply http://…/manifest.json` as a user runs it, against the bundled sample
 * release served from 127.0.0.1: install, then an update that downloads only the changed files
 * (counted per path on the server, bytes included); the fault modes through the real CLI (exit
 * code, message, untouched target); python3's http.server as the plain static server; the
 * progress display under a pseudo-terminal, never in --json.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { apply, defaultContext } from '@codemate-txn/engine';
import { loadManifestFile } from '@codemate-txn/manifest';
import { tempDir, snapshotTree, cliPath, cleanupTemps } from '@codemate-txn/testkit';
import { startReleaseServer, type Fault, type ReleaseServer } from '../../fetch/test/helpers/release-server.js';
import { cli, sampleReleases, FAST_NET } from './http-helpers.js';

let root: string;
let srv: ReleaseServer;

/** What the sample's 2.0.0 changes by content (its README), minus the preserved config/user_settings.json. */
const CHANGED = ['CHANGELOG.md', 'README.md', 'app/main.js', 'assets/résumé.txt', 'docs/index.md', 'package.json'];
const ADDED = ['docs/plugins.md', 'lib/v2/colors.js', 'lib/v2/format.js', 'lib/v2/strings.js', 'plugins/markdown/README.md', 'plugins/markdown/index.js'];

const snap = (dir: string) => (fs.existsSync(dir) ? snapshotTree(dir) : ['<absent>']);
const siblings = (target: string) => fs.readdirSync(path.dirname(target)).sort();
const CLEAN = ['app', 'app.journal.db', 'app.journal.db.lock', 'app.journal.db.lock.holder'];

test.before(async () => {
  root = tempDir();
  await sampleReleases(root);
  srv = await startReleaseServer(root);
});
test.before.each(() => srv.reset());
test.after(async () => {
  await srv.close();
  cleanupTemps();
});

/** A target with 1.0.0 installed, in-process from the local copy (fast; same tree as over HTTP). */
async function installedV1(): Promise<string> {
  const target = path.join(tempDir(), 'app');
  await apply(await loadManifestFile(path.join(root, 'rel-1.0.0', 'manifest.json'), root), { target }, defaultContext({}));
  return target;
}

test('install then update over HTTP: the update downloads only the new and changed files', async () => {
  const target = path.join(tempDir(), 'app');
  const i = await cli(['apply', srv.url('/rel-1.0.0/manifest.json'), '--target', target]);
  assert.is(i.code, 0, i.stderr);
  assert.match(i.stdout, 'installed sample 1.0.0');
  assert.match(i.stdout, 'downloaded 25 files');
  const rel1 = snapshotTree(path.join(root, 'rel-1.0.0', 'files'));
  assert.equal(snap(target).filter((l) => !l.includes('.codemate-version')), rel1);
  const installBytes = srv.totalBytesSent();

  srv.reset();
  const u = await cli(['apply', srv.url('/rel-2.0.0/manifest.json'), '--target', target, '--json']);
  assert.is(u.code, 0, u.stderr);
  const j = JSON.parse(u.stdout) as { kind: string; download: { files: number; bytes: number; documentBytes: number; requests: number; retries: number } };
  assert.is(j.kind, 'update');
  const fetched = srv.requests.map((r) => r.path).filter((p) => p.startsWith('/rel-2.0.0/files/')).map((p) => p.slice('/rel-2.0.0/files/'.length)).sort();
  assert.equal(fetched, [...CHANGED, ...ADDED].sort());
  assert.equal(srv.requests.map((r) => r.path).filter((p) => !p.startsWith('/rel-2.0.0/files/')), ['/rel-2.0.0/manifest.json']);
  const fileBytes = fetched.reduce((n, p) => n + srv.bytesSent(`/rel-2.0.0/files/${p}`), 0);
  const onDisk = fetched.reduce((n, p) => n + fs.statSync(path.join(root, 'rel-2.0.0', 'files', p)).size, 0);
  assert.is(fileBytes, onDisk);
  assert.equal(j.download, { ...j.download, files: 12, bytes: onDisk, documentBytes: srv.bytesSent('/rel-2.0.0/manifest.json'), requests: 13, retries: 0 });
  const rel2 = snapshotTree(path.join(root, 'rel-2.0.0', 'files'), { exclude: (p) => p === 'config/user_settings.json' });
  assert.equal(snapshotTree(target, { exclude: (p) => p === '.codemate-version' || p === 'config/user_settings.json' }), rel2);
  assert.ok(onDisk < installBytes / 2, `update ${onDisk} B vs install ${installBytes} B`);
});

test('--dry-run over HTTP fetches the manifest only', async () => {
  const target = await installedV1();
  const r = await cli(['apply', srv.url('/rel-2.0.0/manifest.json'), '--target', target, '--dry-run', '--json']);
  assert.is(r.code, 0, r.stderr);
  assert.equal(srv.requests.map((q) => q.path), ['/rel-2.0.0/manifest.json']);
});

test('a manifest URL that 404s: exit 2, E_MANIFEST_READ, nothing touched', async () => {
  const target = path.join(tempDir(), 'app');
  const r = await cli(['apply', srv.url('/rel-9/manifest.json'), '--target', target, ...FAST_NET]);
  assert.is(r.code, 2);
  assert.match(r.stderr, 'error E_MANIFEST_READ');
  assert.match(r.stderr, 'HTTP 404');
  assert.equal(fs.readdirSync(path.dirname(target)), []);
});

const FILE = '/rel-2.0.0/files/app/main.js';
const FAULTS: Array<{ name: string; fault: Fault; times?: number; code: string; says: string[]; hits: number }> = [
  { name: 'connection reset mid-body', fault: { resetAfter: 10 }, code: 'E_DOWNLOAD', says: ['failed on the network', 'after 3 attempts'], hits: 3 },
  { name: 'body longer than declared', fault: { extra: 100, chunked: true }, code: 'E_STAGE_VERIFY', says: ['cut off'], hits: 1 },
  { name: 'short body', fault: { truncate: 10 }, code: 'E_STAGE_VERIFY', says: ['short body', 'received 10 bytes'], hits: 1 },
  { name: 'wrong hash', fault: { body: 'x'.repeat(fs.statSync(path.join(__dirname, '..', '..', '..', 'test-fixtures', 'sample', 'release-2.0.0', 'app', 'main.js')).size) }, code: 'E_STAGE_VERIFY', says: ['sha256 mismatch'], hits: 1 },
  { name: '404', fault: { status: 404 }, code: 'E_DOWNLOAD', says: ['HTTP 404 Not Found'], hits: 1 },
  { name: '500 every time', fault: { status: 500 }, code: 'E_DOWNLOAD', says: ['HTTP 500', 'after 3 attempts'], hits: 3 },
  { name: 'slow server (timeout)', fault: { stall: 'head' }, code: 'E_DOWNLOAD', says: ['timed out: no response for 150 ms'], hits: 3 },
  { name: 'redirect loop', fault: { redirect: FILE }, code: 'E_DOWNLOAD', says: ['redirected more than 5 times'], hits: 6 },
];

test('fault modes through the CLI: exit 1, the code, URL, path, expected/received, target untouched, no staging', async () => {
  // One server and one target per fault, all run at once: a fault and its counts stay its own.
  await Promise.all(
    FAULTS.map(async (f) => {
      const target = await installedV1();
      const before = snap(target);
      const own = await startReleaseServer(root);
      try {
        own.fault(FILE, f.fault, f.times);
        const r = await cli(['apply', own.url('/rel-2.0.0/manifest.json'), '--target', target, ...FAST_NET]);
        assert.is(r.code, 1, `${f.name}: ${r.stderr}`);
        for (const s of [`error ${f.code}`, 'files entry "app/main.js"', own.url(FILE), 'expected', 'what to do', 'the target is unchanged', ...f.says]) {
          assert.ok(r.stderr.includes(s), `${f.name}: expected "${s}" in:\n${r.stderr}`);
        }
        assert.is(own.hits(FILE), f.hits, f.name);
        assert.equal(snap(target), before, f.name);
        assert.equal(siblings(target), CLEAN, f.name);
      } finally {
        await own.close();
      }
    }),
  );
});

test('500 twice then OK through the CLI: retried, exit 0, the retries reported', async () => {
  const target = await installedV1();
  srv.fault(FILE, { status: 500 }, 2);
  const r = await cli(['apply', srv.url('/rel-2.0.0/manifest.json'), '--target', target, '--json', ...FAST_NET]);
  assert.is(r.code, 0, r.stderr);
  assert.is((JSON.parse(r.stdout) as { download: { retries: number } }).download.retries, 2);
  assert.is(srv.hits(FILE), 3);
});

test('bad network flags are usage errors (exit 2)', async () => {
  const r = await cli(['apply', srv.url('/rel-1.0.0/manifest.json'), '--target', path.join(tempDir(), 'app'), '--concurrency', '0']);
  assert.is(r.code, 2);
  assert.match(r.stderr, '--concurrency expects a whole number ≥ 1, found "0"');
});

const hasPython = spawnSync('python3', ['--version']).status === 0;

test('a plain static server (python3 -m http.server): install, then an update that fetches only changed files', async () => {
  if (!hasPython) return console.log('  (python3 not found: skipped)');
  const py = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', root], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  py.stderr.setEncoding('utf8').on('data', (s: string) => (log += s));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      py.stdout.setEncoding('utf8').on('data', (s: string) => {
        out += s;
        const m = /port (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      py.once('exit', () => reject(new Error(`python3 http.server exited: ${log}`)));
    });
    const base = `http://127.0.0.1:${port}`;
    const target = path.join(tempDir(), 'app');
    const i = await cli(['apply', `${base}/rel-1.0.0/manifest.json`, '--target', target, '--quiet']);
    assert.is(i.code, 0, i.stderr);
    log = '';
    const u = await cli(['apply', `${base}/rel-2.0.0/manifest.json`, '--target', target, '--json']);
    assert.is(u.code, 0, u.stderr);
    const gets = [...log.matchAll(/"GET ([^ ]+) HTTP/g)].map((m) => decodeURIComponent(m[1]!));
    assert.equal(gets.filter((p) => p.startsWith('/rel-2.0.0/files/')).map((p) => p.slice(17)).sort(), [...CHANGED, ...ADDED].sort());
    assert.is((JSON.parse(u.stdout) as { download: { files: number } }).download.files, 12);
  } finally {
    py.kill();
  }
});

const hasScript = spawnSync('script', ['--version']).status === 0;

test('progress: drawn on a terminal (script -qec), absent from --json output', async () => {
  if (!hasScript) return console.log('  (script(1) not found: skipped)');
  const target = path.join(tempDir(), 'app');
  const run = (extra: string): Promise<string> =>
    new Promise((resolve) => {
      const cmd = `${process.execPath} ${cliPath()} apply ${srv.url('/rel-1.0.0/manifest.json')} --target ${target} ${extra}`;
      const child = spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
      child.on('close', () => resolve(out));
    });
  const tty = await run('');
  assert.match(tty, /download\s+\[/, tty);
  assert.match(tty, 'installed sample 1.0.0');
  fs.rmSync(path.dirname(target), { recursive: true, force: true });
  fs.mkdirSync(path.dirname(target));
  const json = await run('--json');
  assert.not.match(json, /\[[░█]/);
  assert.not.match(json, 'download  [');
  assert.is((JSON.parse(json.replace(/\r\n/g, '\n')) as { kind: string }).kind, 'install');
});

test.run();
