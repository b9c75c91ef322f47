import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { TxnError } from '@codemate-txn/core';
import { loadManifestFile, sha256Hex } from '@codemate-txn/manifest';

const temps: string[] = [];
test.after(() => {
  for (const t of temps) fs.rmSync(t, { recursive: true, force: true });
});

function manifestText(source: string): string {
  return JSON.stringify({
    schemaVersion: 1,
    app: 'demo',
    version: '1.0.0',
    source,
    files: [{ path: 'a', size: 1, sha256: 'c'.repeat(64) }],
  });
}

/** Writes rel/manifest.json under a fresh temp dir; returns [tempDir, manifestPath]. */
function write(source: string, rel = 'rel'): [string, string] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cm-manifest-load-'));
  temps.push(dir);
  fs.mkdirSync(path.join(dir, rel), { recursive: true });
  const file = path.join(dir, rel, 'manifest.json');
  fs.writeFileSync(file, manifestText(source));
  return [dir, file];
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

test('a relative path from cwd; relative source resolves against the manifest directory', async () => {
  const [dir, file] = write('./files');
  const loaded = await loadManifestFile('rel/manifest.json', dir);
  assert.is(loaded.location, file);
  assert.is(loaded.sourceBase, path.join(dir, 'rel', 'files'));
  assert.is(loaded.sha256, sha256Hex(fs.readFileSync(file)));
  assert.ok(loaded.bytes.equals(fs.readFileSync(file)));
  assert.is(loaded.manifest.app, 'demo');
});

test('a file: URL manifest', async () => {
  const [, file] = write('../up');
  const loaded = await loadManifestFile(pathToFileURL(file).href, '/');
  assert.is(loaded.location, file);
  assert.is(loaded.sourceBase, path.resolve(path.dirname(file), '../up'));
});

test('source as a file: URL becomes a path', async () => {
  const [dir, file] = write(pathToFileURL('/srv/release files').href);
  const loaded = await loadManifestFile(file, dir);
  assert.is(loaded.sourceBase, path.resolve('/srv/release files'));
});

test('source as an http(s) URL gets a trailing slash', async () => {
  const [dir, file] = write('https://cdn.example/releases/1.0.0');
  assert.is((await loadManifestFile(file, dir)).sourceBase, 'https://cdn.example/releases/1.0.0/');
  const [dir2, file2] = write('http://cdn.example/r/');
  assert.is((await loadManifestFile(file2, dir2)).sourceBase, 'http://cdn.example/r/');
});

test('source with an unsupported scheme or a query is refused', async () => {
  const [dir, file] = write('ftp://example/x');
  const e = await refusal(loadManifestFile(file, dir));
  assert.is(e.code, 'E_MANIFEST_SCHEMA');
  assert.match(e.message, /"source" "ftp:\/\/example\/x": must be a relative path, a file: URL or an http\(s\): URL, found a ftp: URL/);
  const [dir2, file2] = write('https://x/r?token=1');
  assert.is((await refusal(loadManifestFile(file2, dir2))).code, 'E_MANIFEST_SCHEMA');
});

test('a missing manifest is E_MANIFEST_READ with the path and errno', async () => {
  const [dir] = write('./files');
  const e = await refusal(loadManifestFile('nope.json', dir));
  assert.is(e.code, 'E_MANIFEST_READ');
  assert.is(e.facts.errno, 'ENOENT');
  assert.is(e.facts.path, path.join(dir, 'nope.json'));
  assert.ok(e.message.includes(JSON.stringify(path.join(dir, 'nope.json'))), e.message);
});

test('a directory is E_MANIFEST_READ', async () => {
  const [dir] = write('./files');
  const e = await refusal(loadManifestFile('rel', dir));
  assert.is(e.code, 'E_MANIFEST_READ');
  assert.is(e.facts.errno, 'EISDIR');
});

test('an http manifest is not fetched here', async () => {
  const e = await refusal(loadManifestFile('https://example.com/m.json', '/'));
  assert.is(e.code, 'E_MANIFEST_READ');
  assert.match(e.message, /found a https: URL/);
});

test('the byte cap applies while reading', async () => {
  const [dir, file] = write('./files');
  const e = await refusal(loadManifestFile(file, dir, { maxBytes: 10 }));
  assert.is(e.code, 'E_MANIFEST_LIMIT');
});

test('parse errors name the manifest location', async () => {
  const [dir, file] = write('./files');
  fs.writeFileSync(file, '{ "schemaVersion": 1, }');
  const e = await refusal(loadManifestFile(file, dir));
  assert.is(e.code, 'E_MANIFEST_JSON');
  assert.ok(e.message.startsWith(`manifest ${file}: `), e.message);
});

test.run();
