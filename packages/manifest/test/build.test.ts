import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { TxnError, type Manifest } from '@codemate-txn/core';
import { buildManifest, parseManifest, serializeManifest, sha256Hex } from '@codemate-txn/manifest';

const temps: string[] = [];

/** A temp release tree from a literal: string = file bytes, null = empty dir, { link } = symlink. */
type Node = string | null | { link: string } | { bytes: string; mode: number };
function tree(spec: Record<string, Node>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cm-manifest-build-'));
  temps.push(root);
  for (const [rel, node] of Object.entries(spec)) {
    const abs = path.join(root, ...rel.split('/'));
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    if (node === null) fs.mkdirSync(abs, { recursive: true });
    else if (typeof node === 'string') fs.writeFileSync(abs, node, { mode: 0o644 });
    else if ('link' in node) fs.symlinkSync(node.link, abs);
    else {
      fs.writeFileSync(abs, node.bytes);
      fs.chmodSync(abs, node.mode);
    }
  }
  return root;
}

async function refusal(p: Promise<unknown>): Promise<TxnError> {
  try {
    await p;
  } catch (e: unknown) {
    if (e instanceof TxnError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

test.after(() => {
  for (const t of temps) fs.rmSync(t, { recursive: true, force: true });
});

test('sha256Hex of strings and buffers', () => {
  assert.is(sha256Hex(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.is(sha256Hex(Buffer.from('abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('buildManifest: files, exec bit, symlink, empty dirs, sorted by byte order', async () => {
  const root = tree({
    'app/main.js': 'console.log(1)\n',
    'bin/run': { bytes: '#!/bin/sh\n', mode: 0o755 },
    'lib/v2/x.js': 'x',
    'lib/current': { link: 'v2' },
    cache: null,
    'a/b/empty': null,
    'Z-upper': 'z',
    'é.txt': 'accent',
    'e.txt': 'e',
  });
  const m = await buildManifest(root, { app: 'demo', version: '2.0.0' });
  assert.is(m.app, 'demo');
  assert.is(m.version, '2.0.0');
  assert.is(m.source, './files');
  assert.equal(m.preserve, []);
  assert.equal(
    m.files.map((e) => e.path),
    ['Z-upper', 'a/b/empty', 'app/main.js', 'bin/run', 'cache', 'e.txt', 'lib/current', 'lib/v2/x.js', 'é.txt'],
  );
  const byPath = new Map(m.files.map((e) => [e.path, e]));
  assert.equal(byPath.get('app/main.js'), { type: 'file', path: 'app/main.js', size: 15, sha256: sha256Hex('console.log(1)\n'), mode: 0o644 });
  assert.equal(byPath.get('bin/run'), { type: 'file', path: 'bin/run', size: 10, sha256: sha256Hex('#!/bin/sh\n'), mode: 0o755 });
  assert.equal(byPath.get('lib/current'), { type: 'symlink', path: 'lib/current', target: 'v2' });
  assert.is(byPath.get('cache')?.type, 'dir');
  assert.is(byPath.get('a/b/empty')?.type, 'dir');
  assert.not.ok(byPath.has('lib'), 'non-empty directories are implicit');
});

test('buildManifest: options source and preserve', async () => {
  const root = tree({ f: 'x' });
  const m = await buildManifest(root, { app: 'demo', version: '1.0.0', source: 'https://cdn.example/r/1.0.0', preserve: ['data/'] });
  assert.is(m.source, 'https://cdn.example/r/1.0.0');
  assert.equal(m.preserve, ['data/']);
});

test('buildManifest: an NFD name on disk is refused, naming the file (its bytes could not be found at the NFC path)', async () => {
  const root = tree({ 'cafe\u0301.txt': 'x' });
  const e = await refusal(buildManifest(root, { app: 'demo', version: '1.0.0' }));
  assert.is(e.code, 'E_USAGE');
  assert.match(e.message, /NFC/);
  assert.match(e.message, /cafe\u0301\.txt/);
});

test('buildManifest: excluded paths (the manifest being written) are left out', async () => {
  const root = tree({ 'a.txt': 'a', 'manifest.json': '{}' });
  const m = await buildManifest(root, { app: 'demo', version: '1.0.0', exclude: [path.join(root, 'manifest.json')] });
  assert.equal(m.files.map((f) => f.path), ['a.txt']);
});

test('buildManifest: a symlink escaping the tree is refused', async () => {
  const root = tree({ 'lib/l': { link: '../../outside' } });
  const e = await refusal(buildManifest(root, { app: 'demo', version: '1.0.0' }));
  assert.is(e.code, 'E_SYMLINK_ESCAPE');
  assert.match(e.message, /"lib\/l"/);
});

test('buildManifest: symlinks are recorded as links, never followed', async () => {
  const root = tree({ 'real/x.js': 'x', alias: { link: 'real' } });
  const m = await buildManifest(root, { app: 'demo', version: '1.0.0' });
  assert.equal(m.files, [
    { type: 'symlink', path: 'alias', target: 'real' },
    { type: 'file', path: 'real/x.js', size: 1, sha256: sha256Hex('x'), mode: 0o644 },
  ]);
  const outside = tree({ 'secret.txt': 'do not read' });
  const e = await refusal(buildManifest(tree({ out: { link: outside } }), { app: 'demo', version: '1.0.0' }));
  assert.is(e.code, 'E_SYMLINK_ESCAPE');
});

test('buildManifest: file names breaking a path rule are refused with the rule', async () => {
  const root = tree({ 'con.txt': 'x' });
  assert.is((await refusal(buildManifest(root, { app: 'demo', version: '1.0.0' }))).code, 'E_PATH_RESERVED_NAME');
  const root2 = tree({ 'ab:c': 'x' });
  assert.is((await refusal(buildManifest(root2, { app: 'demo', version: '1.0.0' }))).code, 'E_PATH_COLON');
});

test('buildManifest: bad app or version is refused', async () => {
  const root = tree({ f: 'x' });
  assert.is((await refusal(buildManifest(root, { app: 'my app', version: '1.0.0' }))).code, 'E_MANIFEST_SCHEMA');
  assert.is((await refusal(buildManifest(root, { app: 'demo', version: 'v1' }))).code, 'E_VERSION_INVALID');
});

test('buildManifest: a missing directory or a file is a usage error', async () => {
  const root = tree({ f: 'x' });
  const e = await refusal(buildManifest(path.join(root, 'nope'), { app: 'demo', version: '1.0.0' }));
  assert.is(e.code, 'E_USAGE');
  assert.match(e.message, /must exist/);
  const f = await refusal(buildManifest(path.join(root, 'f'), { app: 'demo', version: '1.0.0' }));
  assert.is(f.code, 'E_USAGE');
  assert.match(f.message, /must be a directory, found a file/);
});

const hasMkfifo = spawnSync('mkfifo', ['--version']).status === 0;
test(`buildManifest: a FIFO is refused${hasMkfifo ? '' : ' (skipped: no mkfifo)'}`, async () => {
  if (!hasMkfifo) return;
  const root = tree({ f: 'x' });
  spawnSync('mkfifo', [path.join(root, 'pipe')]);
  const e = await refusal(buildManifest(root, { app: 'demo', version: '1.0.0' }));
  assert.is(e.code, 'E_USAGE');
  assert.match(e.message, /only files, symlinks and directories, found a FIFO at .*pipe/);
});

test('buildManifest: special mode bits are recorded, and parse then asks for allowSpecialModes', async () => {
  const root = tree({ 'bin/su': { bytes: 'x', mode: 0o4755 } });
  const m = await buildManifest(root, { app: 'demo', version: '1.0.0' });
  const mode = (m.files[0] as { mode: number }).mode;
  if ((fs.statSync(path.join(root, 'bin/su')).mode & 0o4000) === 0) return; // a nosuid mount
  assert.is(mode, 0o4755);
  const text = serializeManifest(m);
  assert.match(text, /"mode": "4755"/);
  let code = '';
  try {
    parseManifest(Buffer.from(text), 'm.json');
  } catch (e: unknown) {
    code = (e as TxnError).code;
  }
  assert.is(code, 'E_SPECIAL_MODE');
});

test('serializeManifest: key order, modes as octal strings, type omitted for files, trailing newline', () => {
  const m: Manifest = {
    schemaVersion: 1,
    app: 'demo',
    version: '2.0.0',
    source: './files',
    files: [
      { type: 'file', path: 'bin/run', size: 80, sha256: 'a'.repeat(64), mode: 0o755, url: 'https://x/run' },
      { type: 'symlink', path: 'lib/current', target: 'v2' },
      { type: 'dir', path: 'cache', mode: 0o700 },
    ],
    preserve: [],
  };
  const text = serializeManifest(m);
  assert.ok(text.endsWith('}\n'));
  assert.equal(Object.keys(JSON.parse(text)), ['schemaVersion', 'app', 'version', 'source', 'files']);
  assert.equal(JSON.parse(text).files, [
    { path: 'bin/run', size: 80, sha256: 'a'.repeat(64), mode: '755', url: 'https://x/run' },
    { path: 'lib/current', type: 'symlink', target: 'v2' },
    { path: 'cache', type: 'dir', mode: '700' },
  ]);
  assert.match(text, /^\{\n {2}"schemaVersion": 1,\n {2}"app": "demo",/);
  const withAll = serializeManifest({ ...m, preserve: ['data/'], expires: '2030-01-01' });
  assert.equal(Object.keys(JSON.parse(withAll)), ['schemaVersion', 'app', 'version', 'source', 'files', 'preserve', 'expires']);
});

test('serialize → parse round trip, from a hand-made manifest and from a built tree', async () => {
  const m: Manifest = {
    schemaVersion: 1,
    app: 'demo',
    version: '2.0.0-rc.1',
    source: 'file:///srv/release',
    files: [
      { type: 'file', path: 'a/b.js', size: 3, sha256: 'b'.repeat(64), mode: 0o600 },
      { type: 'symlink', path: 'l', target: 'a' },
      { type: 'dir', path: 'empty', mode: 0o755 },
    ],
    preserve: ['x/'],
    expires: '2030-01-31T00:00:00Z',
  };
  assert.equal(parseManifest(Buffer.from(serializeManifest(m)), 'rt'), m);

  const root = tree({ 'app/main.js': 'x', 'bin/run': { bytes: 'y', mode: 0o750 }, 'l': { link: 'app' }, 'd': null });
  const built = await buildManifest(root, { app: 'demo', version: '1.0.0', preserve: ['logs/'] });
  const text = serializeManifest(built);
  assert.equal(parseManifest(Buffer.from(text), 'rt'), built);
  assert.is(serializeManifest(parseManifest(Buffer.from(text), 'rt')), text, 'stable text');
});

test.run();
