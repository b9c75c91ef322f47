import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TxnError } from '@codemate-txn/core';
import { MANIFEST_SCHEMA, parseManifest, type ParseOptions } from '@codemate-txn/manifest';

const SHA = 'ab'.repeat(32);

function base(): Record<string, unknown> {
  return {
    schemaVersion: 1,
    app: 'demo',
    version: '2.0.0',
    source: './files',
    files: [
      { path: 'app/main.js', size: 1234, sha256: SHA, mode: '644' },
      { path: 'bin/run', size: 80, sha256: SHA, mode: '0755' },
      { path: 'lib/current', type: 'symlink', target: 'v2' },
      { path: 'cache', type: 'dir' },
    ],
    preserve: ['my_custom_data/'],
  };
}

const parse = (o: unknown, opts?: ParseOptions) =>
  parseManifest(Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)), 'test.json', opts);

function refusal(o: unknown, opts?: ParseOptions): TxnError {
  try {
    parse(o, opts);
  } catch (e: unknown) {
    if (e instanceof TxnError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

function withEntry(entry: Record<string, unknown>, at = 3): Record<string, unknown> {
  const m = base();
  const files = [...(m.files as unknown[])];
  files.splice(at, 0, entry);
  m.files = files;
  return m;
}

test('the DESIGN §3 example parses and is normalised', () => {
  const m = parse(base());
  assert.equal(m, {
    schemaVersion: 1,
    app: 'demo',
    version: '2.0.0',
    source: './files',
    files: [
      { type: 'file', path: 'app/main.js', size: 1234, sha256: SHA, mode: 0o644 },
      { type: 'file', path: 'bin/run', size: 80, sha256: SHA, mode: 0o755 },
      { type: 'symlink', path: 'lib/current', target: 'v2' },
      { type: 'dir', path: 'cache', mode: 0o755 },
    ],
    preserve: ['my_custom_data/'],
  });
});

test('defaults: type file, mode 644 for files and 755 for dirs, preserve []', () => {
  const m = parse({ schemaVersion: 1, app: 'a', version: '1.0.0', source: 's', files: [{ path: 'f', size: 0, sha256: SHA }, { path: 'd', type: 'dir' }] });
  assert.equal(m.files, [
    { type: 'file', path: 'f', size: 0, sha256: SHA, mode: 0o644 },
    { type: 'dir', path: 'd', mode: 0o755 },
  ]);
  assert.equal(m.preserve, []);
  assert.is(m.expires, undefined);
});

test('optional url and expires are kept; a UTF-8 BOM is accepted', () => {
  const o = withEntry({ path: 'x', size: 1, sha256: SHA, url: 'https://cdn.example/x' });
  o.expires = '2030-01-31T00:00:00Z';
  const m = parseManifest(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(o))]), 't');
  assert.equal(m.files[3], { type: 'file', path: 'x', size: 1, sha256: SHA, mode: 0o644, url: 'https://cdn.example/x' });
  assert.is(m.expires, '2030-01-31T00:00:00Z');
});

test('MANIFEST_SCHEMA is the shipped schema file', () => {
  const file = path.join(__dirname, '..', 'schema', 'manifest.schema.json');
  assert.equal(MANIFEST_SCHEMA, JSON.parse(fs.readFileSync(file, 'utf8')));
});

/** [name, manifest, message fragment, details.field] — each must be E_MANIFEST_SCHEMA. */
const schemaCases: [string, Record<string, unknown>, string, string][] = [
  ['bad sha256', withEntry({ path: 'app/x.js', size: 1, sha256: 'XYZ' }), 'entry files[3] ("app/x.js"): "sha256" must match pattern "^[0-9a-f]{64}$", found "XYZ"', 'sha256'],
  ['file without size', withEntry({ path: 'app/x.js', sha256: SHA }), 'entry files[3] ("app/x.js"): a file entry needs "size", found none', 'size'],
  ['file without sha256', withEntry({ path: 'app/x.js', size: 3 }), 'entry files[3] ("app/x.js"): a file entry needs "sha256"', 'sha256'],
  ['negative size', withEntry({ path: 'a', size: -1, sha256: SHA }), 'entry files[3] ("a"): "size" must be >= 0, found number -1', 'size'],
  ['fractional size', withEntry({ path: 'a', size: 1.5, sha256: SHA }), 'entry files[3] ("a"): "size" must be integer', 'size'],
  ['mode as a number', withEntry({ path: 'a', size: 1, sha256: SHA, mode: 420 }), 'entry files[3] ("a"): "mode" must be string, found number 420', 'mode'],
  ['mode not octal', withEntry({ path: 'a', size: 1, sha256: SHA, mode: '789' }), '"mode" must match pattern', 'mode'],
  ['symlink without target', withEntry({ path: 'l', type: 'symlink' }), 'entry files[3] ("l"): a symlink entry needs "target", found none', 'target'],
  ['symlink with sha256', withEntry({ path: 'l', type: 'symlink', target: 'x', sha256: SHA }), 'entry files[3] ("l"): "sha256" is not allowed on a symlink entry', 'sha256'],
  ['dir with target', withEntry({ path: 'd', type: 'dir', target: 'x' }), 'entry files[3] ("d"): "target" is not allowed on a dir entry', 'target'],
  ['file with target', withEntry({ path: 'f', size: 1, sha256: SHA, target: 'x' }), 'entry files[3] ("f"): "target" is not allowed on a file entry', 'target'],
  ['unknown type', withEntry({ path: 'p', type: 'pipe' }), 'entry files[3] ("p"): "type" must be one of "file", "symlink", "dir", found "pipe"', 'type'],
  ['unknown entry field', withEntry({ path: 'p', size: 1, sha256: SHA, owner: 'root' }), 'entry files[3] ("p"): an entry may only have path, type, size, sha256, mode, url, target, found "owner"', 'owner'],
  ['entry without path', withEntry({ size: 1, sha256: SHA }), 'entry files[3]: a file entry needs "path"', 'path'],
  ['path not a string', withEntry({ path: 7, size: 1, sha256: SHA }), 'entry files[3]: "path" must be string, found number 7', 'path'],
  ['entry not an object', withEntry('x' as unknown as Record<string, unknown>), 'entry files[3]: an entry must be object', ''],
  ['schemaVersion 2', { ...base(), schemaVersion: 2 }, '"schemaVersion" must be 1, found number 2', 'schemaVersion'],
  ['app with a space', { ...base(), app: 'my app' }, '"app" must match pattern', 'app'],
  ['app too long', { ...base(), app: 'a'.repeat(101) }, '"app" must NOT have more than 100 characters', 'app'],
  ['empty source', { ...base(), source: '' }, '"source" must NOT have fewer than 1 characters', 'source'],
  ['missing files', (({ files: _f, ...rest }) => rest)(base()), 'a manifest needs "files", found none', 'files'],
  ['unknown top-level field', { ...base(), signature: 'x' }, 'a manifest may only have schemaVersion, app, version, source, files, preserve, expires, found "signature"', 'signature'],
  ['preserve not strings', { ...base(), preserve: ['ok', 3] }, '"preserve[1]" must be string', 'preserve[1]'],
  ['expires not a date', { ...base(), expires: 'tomorrow' }, '"expires" must match pattern', 'expires'],
  ['expires impossible date', { ...base(), expires: '2030-02-31x' }, '"expires" must match pattern', 'expires'],
];

for (const [name, o, fragment, field] of schemaCases) {
  test(`schema: ${name}`, () => {
    const e = refusal(o);
    assert.is(e.code, 'E_MANIFEST_SCHEMA', e.message);
    assert.ok(e.message.startsWith('manifest test.json: '), e.message);
    assert.ok(e.message.includes(fragment), `${e.message}\n  should include\n${fragment}`);
    assert.is(e.facts.field, field);
    if (fragment.includes('files[3]')) assert.is(e.facts.index, 3);
  });
}

test('schema: impossible calendar date is refused after the pattern', () => {
  const e = refusal({ ...base(), expires: '2030-13-45' });
  assert.is(e.code, 'E_MANIFEST_SCHEMA');
  assert.match(e.message, /"expires" must be a real date/);
});

test('json: line and column of the first error, also when V8 gives no position', () => {
  const e = refusal('{\n  "schemaVersion": 1,\n  "files": [1, 2,]\n}');
  assert.is(e.code, 'E_MANIFEST_JSON');
  assert.match(e.message, /at line 3, column 18/);
  assert.equal({ line: e.facts.line, column: e.facts.column }, { line: 3, column: 18 });
  assert.not.match(e.message, /\n/);
  assert.match(refusal('{"a":}').message, /line 1, column 6/);
  assert.match(refusal('{"a": 1').message, /line 1, column 8/);
  assert.match(refusal('').message, /line 1, column 1/);
  assert.match(refusal("{'a': 1}").message, /line 1, column 2/);
  assert.match(refusal('{"a": "x\ty"}').message, /line 1, column 9/);
});

test('json: invalid UTF-8 is refused, not repaired', () => {
  let code = '';
  try {
    parseManifest(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]), 't');
  } catch (e: unknown) {
    code = (e as TxnError).code;
  }
  assert.is(code, 'E_MANIFEST_JSON');
});

test('limits: bytes and entries', () => {
  const e = refusal(base(), { maxBytes: 100 });
  assert.is(e.code, 'E_MANIFEST_LIMIT');
  assert.match(e.message, /at most 100 bytes/);
  const f = refusal(base(), { maxEntries: 3 });
  assert.is(f.code, 'E_MANIFEST_LIMIT');
  assert.match(f.message, /at most 3 entries, found 4/);
  parse(base(), { maxEntries: 4 });
});

test('limits: the default byte cap is 64 MiB', () => {
  const big = Buffer.alloc(64 * 1024 * 1024 + 1, 0x20);
  let code = '';
  try {
    parseManifest(big, 'big.json');
  } catch (e: unknown) {
    code = (e as TxnError).code;
  }
  assert.is(code, 'E_MANIFEST_LIMIT');
});

for (const v of ['v1.2.3', '1.2', '01.2.3', ' 1.2.3', '1.2.3 ', 'latest', '=1.2.3']) {
  test(`version: ${JSON.stringify(v)} is refused`, () => {
    const e = refusal({ ...base(), version: v });
    assert.is(e.code, 'E_VERSION_INVALID');
    assert.ok(e.message.includes(JSON.stringify(v)), e.message);
  });
}

test('version: prerelease and build metadata are accepted as written', () => {
  assert.is(parse({ ...base(), version: '2.0.0-rc.1+build.5' }).version, '2.0.0-rc.1+build.5');
  assert.is(refusal({ ...base(), version: 'v1.2.3' }).hint, 'fix the manifest version (did you mean "1.2.3"?)');
});

for (const mode of ['4755', '2755', '1777', '06755']) {
  test(`special mode ${mode} is refused unless allowed`, () => {
    const o = withEntry({ path: 'bin/su', size: 1, sha256: SHA, mode });
    const e = refusal(o);
    assert.is(e.code, 'E_SPECIAL_MODE');
    assert.ok(e.message.includes('files[3] ("bin/su")'), e.message);
    assert.is(e.facts.index, 3);
    const m = parse(o, { allowSpecialModes: true });
    assert.is((m.files[3] as { mode: number }).mode, parseInt(mode, 8));
  });
}

test('special bits on a dir are refused too', () => {
  assert.is(refusal(withEntry({ path: 'tmp2', type: 'dir', mode: '1777' })).code, 'E_SPECIAL_MODE');
});

test('path rules run after the schema', () => {
  const e = refusal(withEntry({ path: '../evil', size: 1, sha256: SHA }));
  assert.is(e.code, 'E_PATH_DOTDOT');
  assert.ok(e.message.includes('files[3] path "../evil"'), e.message);
});

test('schema errors come before path errors of later entries', () => {
  const o = base();
  o.files = [{ path: '../x', size: 1, sha256: SHA }, { path: 'ok', size: 'big', sha256: SHA }];
  assert.is(refusal(o).code, 'E_MANIFEST_SCHEMA');
});

test.run();
