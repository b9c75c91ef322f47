/**
 * Regressions found by a first-time user trying to break the CLI: each test is named after the
 * fault it pins. Every one must end with a clear coded error (or a harmless no-op), the documented
 * exit code, and nothing created or changed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tempDir, makeRelease, runCli, cliPath, cleanupTemps, type CliResult } from '@codemate-txn/testkit';

test.after(cleanupTemps);

const show = (r: CliResult): string => `exit ${r.code}/${r.signal}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
const errorOf = (r: CliResult): { code: string; message: string } => (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;

async function release(work: string): Promise<string> {
  return makeRelease(path.join(work, 'rel'), { app: 'demo', version: '1.0.0', tree: { 'a.txt': 'a\n', 'b/c.txt': 'c\n' } });
}

test('empty --target installed into the current directory: now exit 2 E_USAGE, nothing created', async () => {
  const work = tempDir();
  const m = await release(work);
  const cwd = path.join(work, 'cwd');
  fs.mkdirSync(cwd);
  for (const flag of ['--target', '--journal']) {
    const args = flag === '--target' ? ['apply', m, '--target', '', '--json'] : ['apply', m, '--target', path.join(work, 't', 'app'), '--journal', '', '--json'];
    const r = runCli(args, { cwd });
    assert.is(r.code, 2, show(r));
    assert.is(errorOf(r).code, 'E_USAGE');
    assert.match(errorOf(r).message, `${flag} expects a path, found an empty string`);
  }
  assert.equal(fs.readdirSync(cwd), []);
  assert.equal(fs.readdirSync(work).sort(), ['cwd', 'rel']);
});

test('a source file that is a FIFO hung apply forever (holding the lock): now E_SOURCE_MISSING, exit 1, rolled back', async () => {
  const work = tempDir();
  const m = await release(work);
  const fifo = path.join(work, 'rel', 'files', 'a.txt');
  fs.rmSync(fifo);
  assert.is(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
  const target = path.join(work, 't', 'app');
  const r = runCli(['apply', m, '--target', target, '--json'], { timeoutMs: 30_000 });
  assert.is(r.signal, null, `apply must not block on the FIFO: ${show(r)}`);
  assert.is(r.code, 1, show(r));
  assert.is(errorOf(r).code, 'E_SOURCE_MISSING');
  assert.match(errorOf(r).message, `expected a regular file at ${fifo}, found a FIFO`);
  assert.not.ok(fs.existsSync(target), 'target untouched (never created)');
  assert.equal(fs.readdirSync(path.dirname(target)).filter((n) => !n.startsWith('app.journal.db')), [], 'no staging left');
  const s = runCli(['status', '--target', target, '--json']);
  assert.is(s.code, 0, show(s));
  assert.is((JSON.parse(s.stdout) as { lock: { held: boolean } }).lock.held, false, 'the lock is free afterwards');
});

test('recover on a target never used created its directory and an empty journal: now creates nothing', () => {
  const work = tempDir();
  const target = path.join(work, 'typo', 'app');
  const r = runCli(['recover', '--target', target, '--json']);
  assert.is(r.code, 0, show(r));
  assert.equal((JSON.parse(r.stdout) as { recovered: unknown[] }).recovered, []);
  assert.equal(fs.readdirSync(work), [], 'no directory, journal or lock left behind');
  const v = runCli(['verify', '--target', target]);
  assert.is(v.code, 2, 'verify of that typo still says there is no journal');
});

test('manifest build -o into a missing directory was an internal error (exit 70, stack trace): now E_USAGE, exit 2', async () => {
  const work = tempDir();
  await release(work);
  const files = path.join(work, 'rel', 'files');
  for (const [out, found] of [[path.join(work, 'nodir', 'm.json'), 'its directory does not exist'], [work, 'it is a directory']] as const) {
    const r = runCli(['manifest', 'build', files, '--app', 'demo', '--version', '1.0.0', '-o', out, '--json']);
    assert.is(r.code, 2, show(r));
    assert.is(errorOf(r).code, 'E_USAGE');
    assert.match(errorOf(r).message, found);
    const h = runCli(['manifest', 'build', files, '--app', 'demo', '--version', '1.0.0', '-o', out]);
    assert.is(h.code, 2, show(h));
    assert.not.match(h.stderr, /\n\s+at /, 'no stack trace');
  }
  assert.not.ok(fs.existsSync(path.join(work, 'nodir')));
});

test('--target / got past the mount check and created /.journal.db: now E_TARGET_INVALID, exit 2, nothing created', async () => {
  const work = tempDir();
  const m = await release(work);
  const before = fs.readdirSync('/').sort();
  const r = runCli(['apply', m, '--target', '/', '--json']);
  assert.is(r.code, 2, show(r));
  assert.is(errorOf(r).code, 'E_TARGET_INVALID');
  assert.match(errorOf(r).message, 'is the filesystem root');
  assert.equal(fs.readdirSync('/').sort(), before);
});

test('a target that is a bind mount on the same device failed mid-apply with EXDEV: now refused up front, exit 2', async () => {
  const work = tempDir();
  const m = await release(work);
  const src = path.join(work, 'src');
  const target = path.join(work, 'parent', 'app');
  fs.mkdirSync(src);
  fs.mkdirSync(target, { recursive: true });
  if (process.platform !== 'linux' || spawnSync('mount', ['--bind', src, target]).status !== 0) {
    console.log('  skipped (cannot bind-mount here: needs Linux and root): bind-mount target');
    return;
  }
  try {
    const r = runCli(['apply', m, '--target', target, '--json']);
    assert.is(r.code, 2, show(r));
    assert.is(errorOf(r).code, 'E_TARGET_INVALID');
    assert.match(errorOf(r).message, 'is a mount point');
    assert.equal(fs.readdirSync(path.dirname(target)), ['app'], 'no journal, lock, staging or backup');
    assert.equal(fs.readdirSync(target), []);
  } finally {
    spawnSync('umount', [target]);
  }
});

test('a preserved file its user cannot read made the update an internal error (exit 70, stack trace): now E_FS, exit 1, nothing changed', async () => {
  if (process.getuid?.() !== 0 || spawnSync('setpriv', ['--version']).status !== 0) {
    console.log('  skipped: needs root and setpriv to run the CLI as another user');
    return;
  }
  const work = tempDir();
  fs.chmodSync(work, 0o777);
  const m1 = await makeRelease(path.join(work, 'rel1'), { app: 'demo', version: '1.0.0', tree: { 'a.txt': 'a\n' } });
  const m2 = await makeRelease(path.join(work, 'rel2'), { app: 'demo', version: '2.0.0', tree: { 'a.txt': 'a2\n' } });
  const nobody = (args: string[]) => spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, cliPath(), ...args], { encoding: 'utf8' });
  fs.mkdirSync(path.join(work, 't'), { mode: 0o777 });
  fs.chmodSync(path.join(work, 't'), 0o777);
  const target = path.join(work, 't', 'app');
  const first = nobody(['apply', m1, '--target', target, '--quiet']);
  assert.is(first.status, 0, first.stderr);
  const env = path.join(target, '.env');
  fs.writeFileSync(env, 'S=1\n');
  fs.chownSync(env, 65534, 65534);
  fs.chmodSync(env, 0o000);
  const r = nobody(['apply', m2, '--target', target, '--json']);
  assert.is(r.status, 1, `${r.stdout}\n${r.stderr}`);
  const err = errorOf({ code: r.status, signal: null, stdout: r.stdout, stderr: r.stderr } as CliResult);
  assert.is(err.code, 'E_FS');
  assert.match(err.message, /preserved files/);
  assert.match(err.message, /\.env/);
  assert.is(fs.readFileSync(path.join(target, 'a.txt'), 'utf8'), 'a\n', 'nothing changed');
});

test('one --journal given for two targets made the second look installed (a no-op on an empty directory): now E_TARGET_INVALID, exit 2', async () => {
  const work = tempDir();
  const m = await release(work);
  const journal = path.join(work, 'j', 'shared.db');
  fs.mkdirSync(path.dirname(journal));
  const first = runCli(['apply', m, '--target', path.join(work, 't1', 'app'), '--journal', journal, '--quiet']);
  assert.is(first.code, 0, show(first));
  const second = path.join(work, 't2', 'app');
  for (const extra of [[], ['--dry-run']]) {
    const r = runCli(['apply', m, '--target', second, '--journal', journal, '--json', ...extra]);
    assert.is(r.code, 2, show(r));
    assert.is(errorOf(r).code, 'E_TARGET_INVALID');
    assert.match(errorOf(r).message, 'a journal serves one target');
  }
  assert.not.ok(fs.existsSync(second), 'nothing created');
});

test.run();
