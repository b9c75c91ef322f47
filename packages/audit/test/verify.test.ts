import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { verify, formatVerify, type Drift } from '@codemate-txn/audit';
import { isTxnError } from '@codemate-txn/core';
import { buildDemo, CONTENT } from './helpers/demo-journal.js';
import { sha256, tempDir } from './helpers/temp-tree.js';

const kinds = (drift: Drift[]): string[] => drift.map((d) => `${d.kind} ${d.path}`);

test('verify is clean on a tree that matches the journal', async () => {
  const d = buildDemo();
  const r = await verify({ target: d.target });
  assert.equal(r.drift, []);
  assert.ok(r.clean);
  // index.js, bin/tool, README.md, lib/v2/a.js, lib/current, data + the version file
  assert.is(r.checked, 7);
  assert.equal(r.installed, { app: 'demo', version: '2.0.0', txnId: d.ids.update });
  assert.equal(r.interrupted, []);
  assert.match(formatVerify(r), /^clean: demo 2\.0\.0 at .* matches the journal \(7 paths checked\)$/);
});

test('verify detects a modified file, with both hashes', async () => {
  const d = buildDemo();
  fs.writeFileSync(path.join(d.target, 'index.js'), 'module.exports = 9\n'); // same size, other bytes
  const r = await verify({ target: d.target });
  assert.not.ok(r.clean);
  assert.equal(r.drift, [{
    path: 'index.js', kind: 'modified',
    expected: { size: 19, sha256: sha256(CONTENT.index2) },
    found: { size: 19, sha256: sha256('module.exports = 9\n') },
  }]);
});

test('verify reports a size change as modified without hashing', async () => {
  const d = buildDemo();
  fs.appendFileSync(path.join(d.target, 'README.md'), 'more\n');
  const r = await verify({ target: d.target });
  assert.equal(kinds(r.drift), ['modified README.md']);
  assert.equal(r.drift[0]?.found, { size: 12 });
});

test('verify detects a missing file', async () => {
  const d = buildDemo();
  fs.rmSync(path.join(d.target, 'lib/v2/a.js'));
  const r = await verify({ target: d.target });
  assert.equal(kinds(r.drift), ['missing lib/v2/a.js']);
  assert.equal(r.drift[0]?.found, { type: 'absent' });
  assert.is(r.drift[0]?.expected.type, 'file');
});

test('verify detects a chmodded file and a chmodded directory', async () => {
  const d = buildDemo();
  fs.chmodSync(path.join(d.target, 'bin/tool'), 0o644);
  fs.chmodSync(path.join(d.target, 'data'), 0o700);
  const r = await verify({ target: d.target });
  assert.equal(r.drift, [
    { path: 'bin/tool', kind: 'mode', expected: { mode: '755' }, found: { mode: '644' } },
    { path: 'data', kind: 'mode', expected: { mode: '755' }, found: { mode: '700' } },
  ]);
});

test('verify reports content and mode drift of one file separately', async () => {
  const d = buildDemo();
  fs.writeFileSync(path.join(d.target, 'bin/tool'), 'changed');
  fs.chmodSync(path.join(d.target, 'bin/tool'), 0o777);
  const r = await verify({ target: d.target });
  assert.equal(kinds(r.drift), ['mode bin/tool', 'modified bin/tool']);
});

test('verify detects a symlink retarget without following the link', async () => {
  const d = buildDemo();
  fs.unlinkSync(path.join(d.target, 'lib/current'));
  fs.symlinkSync('/etc', path.join(d.target, 'lib/current'));
  const r = await verify({ target: d.target });
  assert.equal(r.drift, [{ path: 'lib/current', kind: 'link', expected: { target: 'v2' }, found: { target: '/etc' } }]);
});

test('verify reports a type change: a file replaced by a symlink to identical bytes is still drift', async () => {
  const d = buildDemo();
  const elsewhere = path.join(d.root, 'outside.js');
  fs.writeFileSync(elsewhere, CONTENT.index2);
  fs.rmSync(path.join(d.target, 'index.js'));
  fs.symlinkSync(elsewhere, path.join(d.target, 'index.js'));
  fs.rmSync(path.join(d.target, 'data'), { recursive: true });
  fs.writeFileSync(path.join(d.target, 'data'), '');
  const r = await verify({ target: d.target });
  assert.equal(r.drift, [
    { path: 'data', kind: 'type', expected: { type: 'dir' }, found: { type: 'file' } },
    { path: 'index.js', kind: 'type', expected: { type: 'file' }, found: { type: 'symlink' } },
  ]);
});

test('verify does not look through a parent directory that became a symlink', async () => {
  const d = buildDemo();
  // A copy of lib/v2 elsewhere with the right bytes, and lib/v2 replaced by a link to it.
  const copy = path.join(d.root, 'v2-copy');
  fs.mkdirSync(copy);
  fs.writeFileSync(path.join(copy, 'a.js'), CONTENT.a2);
  fs.rmSync(path.join(d.target, 'lib/v2'), { recursive: true });
  fs.symlinkSync(copy, path.join(d.target, 'lib/v2'));
  const r = await verify({ target: d.target });
  assert.equal(r.drift, [{ path: 'lib/v2/a.js', kind: 'type', expected: { type: 'file' }, found: { type: 'symlink', at: 'lib/v2' } }]);
});

test('verify ignores preserved files, by default and by extra patterns', async () => {
  const d = buildDemo();
  // Default preserve: config/user_settings.json was never managed, logs/ and user_data/ are the user's.
  fs.writeFileSync(path.join(d.target, 'config/user_settings.json'), 'changed');
  fs.rmSync(path.join(d.target, 'logs'), { recursive: true });
  fs.writeFileSync(path.join(d.target, 'user_data/notes.db'), 'edited');
  assert.ok((await verify({ target: d.target })).clean);
  // An extra pattern covering an installed file makes verify skip it.
  fs.writeFileSync(path.join(d.target, 'README.md'), 'my own readme, longer');
  const strict = await verify({ target: d.target });
  assert.equal(kinds(strict.drift), ['modified README.md']);
  const lenient = await verify({ target: d.target, preserve: ['*.md'] });
  assert.ok(lenient.clean);
  assert.is(lenient.preserved, 1);
  assert.is(lenient.checked, 6);
  // A trailing-slash pattern covers a directory and all beneath it.
  fs.rmSync(path.join(d.target, 'lib/v2/a.js'));
  assert.ok((await verify({ target: d.target, preserve: ['*.md', 'lib/'] })).clean);
});

test('a trailing-slash preserve pattern covers a symlink to a directory, judged without following it', async () => {
  const d = buildDemo();
  fs.unlinkSync(path.join(d.target, 'lib/current'));
  fs.symlinkSync('/etc', path.join(d.target, 'lib/current'));
  assert.equal(kinds((await verify({ target: d.target })).drift), ['link lib/current']);
  // lib/current -> v2 was installed as a link to the installed directory lib/v2.
  const r = await verify({ target: d.target, preserve: ['current/'] });
  assert.ok(r.clean);
  assert.is(r.preserved, 1);
});

test('verify checks the version file', async () => {
  const d = buildDemo();
  fs.writeFileSync(path.join(d.target, '.codemate-version'), '1.0.0\n');
  let r = await verify({ target: d.target });
  assert.equal(r.drift, [{ path: '.codemate-version', kind: 'modified', expected: { version: '2.0.0' }, found: { version: '1.0.0' } }]);
  fs.rmSync(path.join(d.target, '.codemate-version'));
  r = await verify({ target: d.target });
  assert.equal(kinds(r.drift), ['missing .codemate-version']);
});

test('verify with the whole target gone reports every entry missing', async () => {
  const d = buildDemo();
  fs.rmSync(d.target, { recursive: true });
  const r = await verify({ target: d.target });
  assert.is(r.drift.length, 7);
  assert.ok(r.drift.every((x) => x.kind === 'missing'));
  const text = formatVerify(r);
  assert.match(text, /^drift: 7 differences between /);
  assert.match(text, /missing\s+index\.js\s+file, 19 bytes, sha256 [0-9a-f]{12}…, mode 644\s+absent/);
  assert.match(text, /--repair/);
});

test('verify leaves the disk and the journal as they were', async () => {
  const d = buildDemo();
  fs.chmodSync(path.join(d.target, 'bin/tool'), 0o600);
  const before = fs.readFileSync(d.journal);
  const mtimes = fs.readdirSync(d.target).map((n) => fs.lstatSync(path.join(d.target, n)).mtimeMs);
  await verify({ target: d.target });
  assert.ok(fs.readFileSync(d.journal).equals(before));
  assert.equal(fs.readdirSync(d.target).map((n) => fs.lstatSync(path.join(d.target, n)).mtimeMs), mtimes);
  assert.is(fs.statSync(path.join(d.target, 'bin/tool')).mode & 0o7777, 0o600);
});

test('verify without a journal is E_NOT_FOUND (exit 2) naming the journal path', async () => {
  const root = tempDir();
  try {
    await verify({ target: path.join(root, 'nothing') });
    assert.unreachable('should throw');
  } catch (e: unknown) {
    assert.ok(isTxnError(e));
    assert.is(e.code, 'E_NOT_FOUND');
    assert.is(e.exitCode, 2);
    assert.match(e.message, path.join(root, 'nothing.journal.db'));
  }
});

test('verify honours --journal', async () => {
  const d = buildDemo();
  const moved = path.join(d.root, 'elsewhere.db');
  fs.renameSync(d.journal, moved);
  for (const ext of ['-wal', '-shm']) if (fs.existsSync(d.journal + ext)) fs.renameSync(d.journal + ext, moved + ext);
  assert.ok((await verify({ target: d.target, journal: moved })).clean);
});

test.run();
