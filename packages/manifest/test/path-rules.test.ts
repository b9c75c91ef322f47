import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TxnError, type ManifestEntry } from '@codemate-txn/core';
import { checkPaths } from '@codemate-txn/manifest';

const SHA = 'a'.repeat(64);
const file = (path: string): ManifestEntry => ({ type: 'file', path, size: 1, sha256: SHA, mode: 0o644 });
const dir = (path: string): ManifestEntry => ({ type: 'dir', path, mode: 0o755 });
const link = (path: string, target: string): ManifestEntry => ({ type: 'symlink', path, target });

function refusal(entries: ManifestEntry[]): TxnError {
  try {
    checkPaths(entries);
  } catch (e: unknown) {
    if (e instanceof TxnError) return e;
    throw e;
  }
  throw new Error(`expected a refusal for ${JSON.stringify(entries.map((e) => e.path))}`);
}

/** [case name, entries, expected code, index of the entry the error must name] */
type Case = [string, ManifestEntry[], string, number];

const longSegment = 'a'.repeat(256);
const longPath = `${`${'d'.repeat(200)}/`.repeat(21)}x`;

const cases: Case[] = [
  ['empty path', [file('')], 'E_PATH_EMPTY', 0],
  ['leading ..', [file('../x')], 'E_PATH_DOTDOT', 0],
  ['inner ..', [file('ok'), file('a/../b')], 'E_PATH_DOTDOT', 1],
  ['trailing ..', [file('a/..')], 'E_PATH_DOTDOT', 0],
  ['.. wins over an empty segment', [file('a//../b')], 'E_PATH_DOTDOT', 0],
  ['leading .', [file('./x')], 'E_PATH_DOT', 0],
  ['inner .', [file('a/./b')], 'E_PATH_DOT', 0],
  ['empty segment', [file('a//b')], 'E_PATH_EMPTY_SEGMENT', 0],
  ['trailing slash', [dir('a/')], 'E_PATH_EMPTY_SEGMENT', 0],
  ['absolute', [file('/abs/x')], 'E_PATH_ABSOLUTE', 0],
  ['absolute with a backslash', [file('\\abs')], 'E_PATH_ABSOLUTE', 0],
  ['drive relative', [file('C:x')], 'E_PATH_DRIVE', 0],
  ['drive absolute', [file('c:/x')], 'E_PATH_DRIVE', 0],
  ['UNC with slashes', [file('//server/share')], 'E_PATH_UNC', 0],
  ['UNC with backslashes', [file('\\\\server\\share')], 'E_PATH_UNC', 0],
  ['backslash separator', [file('sub\\x')], 'E_PATH_BACKSLASH', 0],
  ['backslash dotdot', [file('a\\..\\..\\b')], 'E_PATH_BACKSLASH', 0],
  ['NUL', [file('a\u0000b')], 'E_PATH_CONTROL_CHAR', 0],
  ['0x01', [file('a\u0001b')], 'E_PATH_CONTROL_CHAR', 0],
  ['newline', [file('a\nb')], 'E_PATH_CONTROL_CHAR', 0],
  ['0x1f', [file('a/\u001f')], 'E_PATH_CONTROL_CHAR', 0],
  ['DEL', [file('a\u007f')], 'E_PATH_CONTROL_CHAR', 0],
  ['NTFS stream', [file('file.txt:stream')], 'E_PATH_COLON', 0],
  ['colon in a directory', [file('ab:c/d')], 'E_PATH_COLON', 0],
  ['CON', [file('CON')], 'E_PATH_RESERVED_NAME', 0],
  ['con.txt', [file('con.txt')], 'E_PATH_RESERVED_NAME', 0],
  ['Com1.log nested', [file('dir/Com1.log')], 'E_PATH_RESERVED_NAME', 0],
  ['lpt9', [file('lpt9')], 'E_PATH_RESERVED_NAME', 0],
  ['aux.tar.gz', [file('aux.tar.gz')], 'E_PATH_RESERVED_NAME', 0],
  ['nul as a directory', [file('nul/x')], 'E_PATH_RESERVED_NAME', 0],
  ['PRN', [file('x/PRN')], 'E_PATH_RESERVED_NAME', 0],
  ['trailing dot', [file('x.')], 'E_PATH_TRAILING_DOT_SPACE', 0],
  ['trailing space', [file('x ')], 'E_PATH_TRAILING_DOT_SPACE', 0],
  ['directory with a trailing dot', [file('dir./x')], 'E_PATH_TRAILING_DOT_SPACE', 0],
  ['three dots', [file('...')], 'E_PATH_TRAILING_DOT_SPACE', 0],
  ['segment over 255 bytes', [file(longSegment)], 'E_PATH_TOO_LONG', 0],
  ['segment over 255 UTF-8 bytes, 128 chars', [file('é'.repeat(128))], 'E_PATH_TOO_LONG', 0],
  ['path over 4096 bytes', [file(longPath)], 'E_PATH_TOO_LONG', 0],
  ['NFD', [file('cafe\u0301')], 'E_PATH_NOT_NFC', 0],
  ['version file', [file('.codemate-version')], 'E_PATH_RESERVED', 0],
  ['version file, other case', [file('.CodeMate-Version')], 'E_PATH_RESERVED', 0],
  ['beneath the version file', [file('.codemate-version/x')], 'E_PATH_RESERVED', 0],
  ['duplicate', [file('a'), file('b'), file('a')], 'E_PATH_DUPLICATE', 2],
  ['duplicate dir and file', [dir('a'), file('a')], 'E_PATH_DUPLICATE', 1],
  ['case collision', [file('README.md'), file('readme.md')], 'E_PATH_CASE_COLLISION', 1],
  ['case collision of directories', [file('Docs/a'), file('docs/b')], 'E_PATH_CASE_COLLISION', 1],
  ['case collision, full folding', [file('straße'), file('STRASSE')], 'E_PATH_CASE_COLLISION', 1],
  ['normalization collision, ligature', [file('ﬁle'), file('file')], 'E_PATH_NORMALIZATION_COLLISION', 1],
  ['normalization collision, superscript', [file('x/a²'), file('x/a2')], 'E_PATH_NORMALIZATION_COLLISION', 1],
  ['case collision, lowercase first', [file('readme.md'), file('README.md')], 'E_PATH_CASE_COLLISION', 1],
  ['case collision with a dir entry', [dir('Docs'), file('docs/x')], 'E_PATH_CASE_COLLISION', 1],
  ['case collision, file vs directory', [file('a/Lib'), file('a/lib/x.js')], 'E_PATH_CASE_COLLISION', 1],
  ['normalization collision, plain name first', [file('file'), file('ﬁle')], 'E_PATH_NORMALIZATION_COLLISION', 1],
  ['normalization collision of two non-ASCII names', [file('x/\u00e9\u00b2'), file('x/\u00e92')], 'E_PATH_NORMALIZATION_COLLISION', 1],
  ['file is a parent (file first)', [file('a'), file('a/b')], 'E_PATH_FILE_IS_PARENT', 1],
  ['file is a parent (child first)', [file('a/b/c'), file('a/b')], 'E_PATH_FILE_IS_PARENT', 1],
  ['file is a parent, after siblings', [file('a/x'), file('a/y'), file('a/y/z')], 'E_PATH_FILE_IS_PARENT', 2],
  ['symlink is a parent', [link('lib', 'v2'), file('lib/x')], 'E_PATH_FILE_IS_PARENT', 1],
  ['symlink target absolute', [link('l', '/etc/passwd')], 'E_SYMLINK_ESCAPE', 0],
  ['symlink target with a drive', [link('l', 'C:/Windows')], 'E_SYMLINK_ESCAPE', 0],
  ['symlink target UNC', [link('l', '//server/share')], 'E_SYMLINK_ESCAPE', 0],
  ['symlink target with a backslash', [link('l', '..\\..\\x')], 'E_PATH_BACKSLASH', 0],
  ['symlink target with NUL', [link('l', 'a\u0000')], 'E_PATH_CONTROL_CHAR', 0],
];

for (const [name, entries, code, index] of cases) {
  test(`path rule: ${name} → ${code}`, () => {
    const e = refusal(entries);
    assert.is(e.code, code, e.message);
    assert.is(e.exitCode, 2);
    const entry = entries[index] as ManifestEntry;
    assert.ok(e.message.includes(`files[${index}]`), e.message);
    const quoted = JSON.stringify(entry.path);
    assert.ok(e.message.includes(quoted.length <= 200 ? quoted : quoted.slice(0, 150)), e.message);
    assert.is(e.facts.index, index);
    assert.is(e.facts.path, entry.path);
    assert.type(e.facts.rule, 'string');
    assert.ok(e.hint?.startsWith('fix the manifest'), e.hint);
  });
}

test('path rule messages have three parts: entry, rule, what was found', () => {
  const e = refusal([file('../x')]);
  assert.is(e.message, `manifest entry files[0] path "../x": a path must stay inside the target, found a '..' segment`);
});

test('collision messages name both entries', () => {
  const e = refusal([file('Docs/a'), file('docs/b')]);
  assert.match(e.message, /files\[1\] path "docs\/b"/);
  assert.match(e.message, /its directory "docs" collides with "Docs" \(from files\[0\] "Docs\/a"\)/);
  assert.is(e.facts.otherIndex, 0);
});

type EscapeCase = [string, ManifestEntry[], number];
const escapes: EscapeCase[] = [
  ['absolute', [link('bin/sh', '/bin/sh')], 0],
  ['.. from the top', [link('l', '../x')], 0],
  ['../.. from one level down', [link('a/l', '../../x')], 0],
  ['out and back in', [link('a/l', '../../T/a')], 0],
  ['down then too far up', [link('l', 'sub/../../x')], 0],
  ['through another manifest symlink', [link('a/up', '..'), link('l', 'a/up/..')], 1],
  ['through a chain of symlinks', [link('x/deep', '../..'), link('y', 'x/deep')], 0],
  ['.. after a symlink climbs from where it points', [link('a/b/l', '../../c/d'), link('m', 'a/b/l/../../..')], 1],
  ['through a symlink named in another case', [link('d', '.'), link('e', 'D/..')], 1],
  ['a symlink loop', [link('x', 'y'), link('y', 'x')], 0],
  ['a link to itself', [link('self', 'self')], 0],
  ['through a symlink to an absolute path', [link('a/l', 'ok'), link('a/ok', '/etc'), link('m', 'a/l/..')], 1],
];

for (const [name, entries, index] of escapes) {
  test(`symlink escape: ${name}`, () => {
    const e = refusal(entries);
    assert.is(e.code, 'E_SYMLINK_ESCAPE', e.message);
    const entry = entries[index] as ManifestEntry & { target: string };
    assert.ok(e.message.includes(`files[${index}] path ${JSON.stringify(entry.path)}`), e.message);
    assert.ok(e.message.includes(`target ${JSON.stringify(entry.target)}`), e.message);
    assert.is(e.facts.field, 'target');
  });
}

test('symlink escape through another link names the link it went through', () => {
  const e = refusal([link('a/up', '..'), link('l', 'a/up/..')]);
  assert.match(e.message, /via the symlink "a\/up" -> "\.\."/);
});

const allowed: [string, ManifestEntry[]][] = [
  ['plain relative', [link('lib/current', 'v2'), file('lib/v2/x.js')]],
  ['up one level, inside', [link('a/b/l', '../c')]],
  ['up to the root exactly', [link('a/up', '..')]],
  ['dot', [link('here', '.')]],
  ['chain inside', [link('l1', 'l2'), link('l2', 'sub/f'), file('sub/f')]],
  ['.. through a link that points deeper', [link('a/l', '../b/c'), link('m', 'a/l/..')]],
  ['dangling but inside', [link('l', 'does/not/exist')]],
  ['redundant slashes and dots in the target', [link('a/l', './/x/./y')]],
];

for (const [name, entries] of allowed) {
  test(`symlink allowed: ${name}`, () => {
    checkPaths(entries);
  });
}

test('valid manifests pass: nested files, explicit dir with children, unicode NFC names', () => {
  checkPaths([
    file('app/main.js'),
    file('bin/run'),
    dir('cache'),
    dir('app'),
    file('app/lib/ünïcödé.js'),
    file('a.b.c/d e/f-g_h'),
    file('console.txt'),
    file('com10'),
    file('.codemate-version-old'),
    file('x/.codemate-version'),
  ]);
});

test('a large manifest is checked quickly', () => {
  const entries: ManifestEntry[] = [];
  for (let i = 0; i < 100_000; i++) entries.push(file(`dir${i % 100}/sub${i % 7}/file-${i}.js`));
  const t0 = Date.now();
  checkPaths(entries);
  assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
});

test.run();
