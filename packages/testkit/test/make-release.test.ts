import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeRelease } from '../src/make-release.js';
import { snapshotTree } from '../src/snapshot-tree.js';
import { tempDir, cleanupTemps } from '../src/temp-dir.js';

test.after(cleanupTemps);

interface Entry { path: string; type?: string; size?: number; sha256?: string; mode?: string; target?: string }

test('writes <dir>/files from the tree and <dir>/manifest.json describing it', async () => {
  const dir = tempDir();
  const out = await makeRelease(dir, {
    app: 'demo',
    version: '1.2.3',
    tree: {
      'app/main.js': 'main',
      'bin/run': { content: '#!/bin/sh\n', mode: 0o755 },
      'lib/current': { symlink: 'v1' },
      'lib/v1/x.js': 'x',
      'cache': { dir: true },
    },
  });
  assert.is(out, path.join(dir, 'manifest.json'));
  assert.ok(snapshotTree(path.join(dir, 'files')).includes('l - lib/current v1'));
  const m = JSON.parse(fs.readFileSync(out, 'utf8')) as { app: string; version: string; source: string; files: Entry[] };
  assert.is(m.app, 'demo');
  assert.is(m.version, '1.2.3');
  assert.is(m.source, './files');
  const byPath = new Map(m.files.map((e) => [e.path, e]));
  assert.equal([...byPath.keys()].sort(), ['app/main.js', 'bin/run', 'cache', 'lib/current', 'lib/v1/x.js']);
  assert.is(byPath.get('bin/run')?.mode, '755');
  assert.is(byPath.get('app/main.js')?.size, 4);
  assert.is(byPath.get('lib/current')?.target, 'v1');
  assert.is(byPath.get('cache')?.type, 'dir');
});

test('source, preserve and edit shape the manifest', async () => {
  const dir = tempDir();
  const out = await makeRelease(dir, {
    app: 'demo',
    version: '2.0.0',
    tree: { 'a.txt': 'a' },
    source: 'file:///somewhere/else',
    preserve: ['my_data/'],
    edit: (m) => ({ ...m, files: m.files.map((e) => (e.type === 'file' ? { ...e, size: e.size + 1 } : e)) }),
  });
  const m = JSON.parse(fs.readFileSync(out, 'utf8')) as { source: string; preserve: string[]; files: Entry[] };
  assert.is(m.source, 'file:///somewhere/else');
  assert.equal(m.preserve, ['my_data/']);
  assert.is(m.files[0]?.size, 2);
});

test.run();
