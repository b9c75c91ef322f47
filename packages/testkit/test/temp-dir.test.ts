import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tempDir, cleanupTemps } from '../src/temp-dir.js';

test('tempDir makes distinct empty dirs under os.tmpdir() with the prefix', () => {
  const a = tempDir('tk-prefix-');
  const b = tempDir('tk-prefix-');
  assert.is.not(a, b);
  assert.is(path.dirname(a), os.tmpdir());
  assert.ok(path.basename(a).startsWith('tk-prefix-'));
  assert.equal(fs.readdirSync(a), []);
  cleanupTemps();
  assert.not.ok(fs.existsSync(a));
  assert.not.ok(fs.existsSync(b));
});

test('cleanupTemps removes trees with read-only dirs and files', () => {
  const d = tempDir();
  fs.mkdirSync(path.join(d, 'ro/inner'), { recursive: true });
  fs.writeFileSync(path.join(d, 'ro/inner/f'), 'f');
  fs.chmodSync(path.join(d, 'ro/inner/f'), 0o400);
  fs.chmodSync(path.join(d, 'ro/inner'), 0o500);
  fs.chmodSync(path.join(d, 'ro'), 0o000);
  cleanupTemps();
  assert.not.ok(fs.existsSync(d));
});

test('cleanupTemps forgets what it removed and tolerates dirs already gone', () => {
  const d = tempDir();
  fs.rmSync(d, { recursive: true });
  cleanupTemps();
  cleanupTemps();
});

test.run();
