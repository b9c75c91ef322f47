/**
 * The validators are generated from the shipped schema files (scripts/gen-validators.mjs); a schema
 * edited without regenerating would leave the engine validating against the old rules.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = path.resolve(__dirname, '..', '..', '..');

test('stale generated validator: every *.generated.ts is exactly what its schema file generates', () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'gen-validators.mjs'), '--check'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
});

test.run();
