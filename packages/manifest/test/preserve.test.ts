import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_PRESERVE, makePreserveMatcher } from '@codemate-txn/manifest';

/** [path, isDir] */
type P = [string, boolean];
const F = (p: string): P => [p, false];
const D = (p: string): P => [p, true];

/** pattern → paths it must preserve (top level and, where the pattern allows, nested) and must not. */
const DEFAULT_CASES: Record<string, { yes: P[]; no: P[] }> = {
  'user_data/': { yes: [D('user_data'), F('user_data/db.sqlite'), F('a/user_data/x/y')], no: [F('user_data'), F('user_data2/x')] },
  'config/user_settings.json': { yes: [F('config/user_settings.json')], no: [F('a/config/user_settings.json'), F('config/settings.json'), F('user_settings.json')] },
  'logs/': { yes: [D('logs'), F('logs/app.log'), F('logs/.hidden'), F('a/logs/x')], no: [F('logs'), F('mylogs/x'), F('logs.txt')] },
  'cache/': { yes: [F('cache/x'), F('sub/cache/deep/y')], no: [F('cache.json'), F('cached/x')] },
  'temp/': { yes: [F('temp/x'), F('a/b/temp/c')], no: [F('temp'), F('tempo/x')] },
  'backup_*/': { yes: [F('backup_2024/x'), F('a/backup_/y'), D('backup_old')], no: [F('backup_x'), F('mybackup_x/y'), F('backup/x')] },
  'staging*/': { yes: [F('staging/x'), F('staging_new/x'), F('a/staging2/b')], no: [F('stagin/x'), F('staging')] },
  '*.tmp': { yes: [F('x.tmp'), F('a/b/c.tmp'), F('.tmp'), D('d.tmp')], no: [F('x.tmp.txt'), F('tmp')] },
  '*.temp': { yes: [F('x.temp'), F('a/y.temp')], no: [F('x.temporary')] },
  '*.bak': { yes: [F('x.bak'), F('a/b/y.bak')], no: [F('x.bak2'), F('bak')] },
  '.env': { yes: [F('.env'), F('a/.env')], no: [F('.envrc'), F('x.env'), F('.env.local')] },
  '.env.*': { yes: [F('.env.local'), F('a/.env.production')], no: [F('.env'), F('.envrc')] },
  '*.key': { yes: [F('server.key'), F('ssl/private.key')], no: [F('server.key.pub'), F('keys/x')] },
  '*.secret': { yes: [F('api.secret'), F('a/b.secret')], no: [F('secret'), F('secrets.txt')] },
  'user_files/': { yes: [F('user_files/a'), F('x/user_files/b')], no: [F('user_files'), F('user_files_old/a')] },
  'documents/': { yes: [F('documents/a.pdf'), F('x/documents/b')], no: [F('documents.zip')] },
  'media/': { yes: [F('media/a.png'), F('x/media/b')], no: [F('multimedia/a')] },
  '.DS_Store': { yes: [F('.DS_Store'), F('a/b/.DS_Store')], no: [F('DS_Store'), F('.ds_store')] },
  'Thumbs.db': { yes: [F('Thumbs.db'), F('pics/Thumbs.db'), F('pics/Thumbs.db-wal')], no: [F('Thumbs.dbx'), F('thumbs.db')] },
  'desktop.ini': { yes: [F('desktop.ini'), F('a/desktop.ini')], no: [F('Desktop.ini.bak2'), F('desktop.ini.txt')] },
};

test('DEFAULT_PRESERVE is the DESIGN §4 list, in order', () => {
  assert.equal(
    [...DEFAULT_PRESERVE],
    ('user_data/ config/user_settings.json logs/ cache/ temp/ backup_*/ staging*/ *.tmp *.temp *.bak ' +
      '.env .env.* *.key *.secret user_files/ documents/ media/ .DS_Store Thumbs.db desktop.ini').split(' '),
  );
  assert.ok(Object.isFrozen(DEFAULT_PRESERVE));
  assert.equal(Object.keys(DEFAULT_CASES), [...DEFAULT_PRESERVE]);
});

for (const [pattern, { yes, no }] of Object.entries(DEFAULT_CASES)) {
  test(`default pattern ${pattern}`, () => {
    const m = makePreserveMatcher([pattern]);
    for (const [p, isDir] of yes) assert.ok(m.isPreserved(p, isDir), `${pattern} should preserve ${p}${isDir ? '/' : ''}`);
    for (const [p, isDir] of no) assert.not.ok(m.isPreserved(p, isDir), `${pattern} should not preserve ${p}${isDir ? '/' : ''}`);
  });
}

test('the whole default list together', () => {
  const m = makePreserveMatcher(DEFAULT_PRESERVE);
  assert.equal(m.patterns, [...DEFAULT_PRESERVE]);
  for (const p of ['user_data/x', 'a/logs/x', 'x.tmp', '.env.local', 'Thumbs.db', 'config/user_settings.json']) {
    assert.ok(m.isPreserved(p, false), p);
  }
  for (const p of ['app/main.js', 'bin/run', 'config/defaults.json', 'lib/cache.js', 'README.md']) {
    assert.not.ok(m.isPreserved(p, false), p);
  }
});

test('trailing slash: the directory and everything beneath it, but not a file of that name', () => {
  const m = makePreserveMatcher(['my_custom_data/']);
  assert.ok(m.isPreserved('my_custom_data', true));
  assert.ok(m.isPreserved('my_custom_data/a', false));
  assert.ok(m.isPreserved('my_custom_data/a/b/c', false));
  assert.ok(m.isPreserved('my_custom_data/sub', true));
  assert.ok(m.isPreserved('deep/er/my_custom_data/f', false));
  assert.not.ok(m.isPreserved('my_custom_data', false));
  assert.not.ok(m.isPreserved('my_custom_data_2/a', false));
});

test('trailing slash matches a symlink to a directory (the caller passes isDir)', () => {
  const m = makePreserveMatcher(['shared/']);
  assert.ok(m.isPreserved('shared', true));
});

test('dir/** includes dotfiles at every depth', () => {
  const m = makePreserveMatcher(['data/**']);
  assert.ok(m.isPreserved('data/.secret', false));
  assert.ok(m.isPreserved('data/a/.b', false));
  assert.ok(m.isPreserved('data/.git/config', false));
  assert.ok(m.isPreserved('data/x', false));
  assert.not.ok(m.isPreserved('other/.secret', false));
  assert.not.ok(m.isPreserved('x/data/y', false), 'inner slash anchors at the root');
});

test('a basename pattern matches dotfiles too', () => {
  const m = makePreserveMatcher(['*']);
  assert.ok(m.isPreserved('.hidden', false));
});

test('backslashes in patterns are separators', () => {
  const m = makePreserveMatcher(['my_data\\', 'conf\\local.json', 'a\\**\\z']);
  assert.ok(m.isPreserved('my_data/x', false));
  assert.ok(m.isPreserved('deep/my_data', true));
  assert.not.ok(m.isPreserved('my_data', false));
  assert.ok(m.isPreserved('conf/local.json', false));
  assert.not.ok(m.isPreserved('x/conf/local.json', false));
  assert.ok(m.isPreserved('a/b/c/z', false));
  assert.equal([...m.patterns], ['my_data\\', 'conf\\local.json', 'a\\**\\z']);
});

test('backslashes in the queried path are separators too', () => {
  const m = makePreserveMatcher(['logs/']);
  assert.ok(m.isPreserved('logs\\x', false));
});

test('an inner or leading slash anchors at the root; **/ matches at any depth', () => {
  const m = makePreserveMatcher(['a/b', '/top', '**/deep', 'x/**/y']);
  assert.ok(m.isPreserved('a/b', false));
  assert.ok(m.isPreserved('a/b/c', false), 'beneath a matched directory');
  assert.not.ok(m.isPreserved('z/a/b', false));
  assert.ok(m.isPreserved('top', false));
  assert.not.ok(m.isPreserved('x/top', false));
  assert.ok(m.isPreserved('deep', false));
  assert.ok(m.isPreserved('p/q/deep', false));
  assert.ok(m.isPreserved('x/y', false));
  assert.ok(m.isPreserved('x/1/2/y', false));
});

test('a preserved SQLite database keeps its sidecars', () => {
  const m = makePreserveMatcher(['data/app.db', '*.sqlite']);
  for (const s of ['', '-wal', '-shm', '-journal']) {
    assert.ok(m.isPreserved(`data/app.db${s}`, false), `data/app.db${s}`);
    assert.ok(m.isPreserved(`x/state.sqlite${s}`, false), `x/state.sqlite${s}`);
  }
  assert.not.ok(m.isPreserved('data/app.db-other', false));
  assert.not.ok(m.isPreserved('data/other.db-wal', false));
  assert.not.ok(m.isPreserved('app.db-wal', false), 'anchored pattern: only at its own place');
  assert.not.ok(m.isPreserved('data/app.db-wal', true), 'a directory is not a sidecar');
});

test('negation re-includes; last match wins; a preserved parent cannot be re-included', () => {
  const m = makePreserveMatcher(['*.log', '!keep.log', 'logs/', '!logs/important']);
  assert.ok(m.isPreserved('a.log', false));
  assert.not.ok(m.isPreserved('keep.log', false));
  assert.not.ok(m.isPreserved('sub/keep.log', false));
  assert.ok(m.isPreserved('logs/important', false), 'gitignore: parent directory is excluded');
  const order = makePreserveMatcher(['!x.log', '*.log']);
  assert.ok(order.isPreserved('x.log', false), 'a later positive pattern wins');
});

test('braces and extglobs are literal, as in gitignore', () => {
  const m = makePreserveMatcher(['{a,b}.txt', '+(x).txt']);
  assert.ok(m.isPreserved('{a,b}.txt', false));
  assert.not.ok(m.isPreserved('a.txt', false));
  assert.ok(m.isPreserved('+(x).txt', false));
  assert.not.ok(m.isPreserved('x.txt', false));
});

test('gitignore character classes, including [!x] negation', () => {
  const m = makePreserveMatcher(['[!a]b.txt', 'x[0-9].log', '[ab']);
  assert.ok(m.isPreserved('cb.txt', false));
  assert.not.ok(m.isPreserved('ab.txt', false));
  assert.ok(m.isPreserved('x7.log', false));
  assert.not.ok(m.isPreserved('xa.log', false));
  assert.ok(m.isPreserved('[ab', false), 'an unclosed bracket is literal');
});

test('empty and slash-only patterns match nothing', () => {
  const m = makePreserveMatcher(['', '/', '!']);
  assert.not.ok(m.isPreserved('a', false));
  assert.not.ok(m.isPreserved('a', true));
});

test('case-sensitive by default, case-insensitive on request', () => {
  assert.not.ok(makePreserveMatcher(['Logs/']).isPreserved('logs/x', false));
  assert.ok(makePreserveMatcher(['Logs/'], { nocase: true }).isPreserved('logs/x', false));
});

test('100k paths against the default list stay fast', () => {
  const m = makePreserveMatcher([...DEFAULT_PRESERVE, 'my_custom_data/', 'data/**']);
  const t0 = Date.now();
  let n = 0;
  for (let i = 0; i < 100_000; i++) {
    if (m.isPreserved(`app${i % 50}/module${i % 300}/sub/file-${i}.js`, false)) n++;
    if (m.isPreserved(`app${i % 50}/logs/f${i}.log`, false)) n++;
  }
  const ms = Date.now() - t0;
  assert.is(n, 100_000);
  assert.ok(ms < 3000, `took ${ms} ms`);
});

test.run();
