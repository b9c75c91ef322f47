import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as path from 'node:path';
import { relAncestors, targetLayout, under } from '@codemate-txn/core';

test('relAncestors: every ancestor, outermost first', () => {
  assert.equal(relAncestors('a'), []);
  assert.equal(relAncestors('a/b'), ['a']);
  assert.equal(relAncestors('a/b/c.txt'), ['a', 'a/b']);
  assert.equal(relAncestors('é/ß/x'), ['é', 'é/ß']);
  // Shapes the path rules refuse, kept as split-and-join gave them (callers only see valid paths).
  assert.equal(relAncestors('a/'), ['a']);
  assert.equal(relAncestors('a//b'), ['a', 'a/']);
  assert.equal(relAncestors('/a'), ['']);
});

test('targetLayout of an empty target (path.resolve would make it the current directory) is E_USAGE', () => {
  assert.throws(() => targetLayout(''), (e: { code?: string }) => e.code === 'E_USAGE');
  assert.is(targetLayout('/srv/app').journal, '/srv/app.journal.db');
});

test('under: the concatenating fast path gives exactly what path.join gives, odd roots and paths included', () => {
  const roots = ['/a/b', '/a/b/', '/', 'rel/x', '/a//b', '/a/./b', '/a/b/..'];
  const rels = ['x', 'x/y', 'x//y', './x', 'x/.', 'x/..', '../x', '.hidden', 'x/.y', 'x/..y/z', '..', '.', '/x', 'x/', 'a\\b', 'x/./y', 'x/../../y', '...', 'a/.../b', ''];
  for (const r of roots) for (const p of rels) assert.is(under(r, p), p === '' ? r : path.join(r, ...p.split('/')), `under(${r}, ${p})`);
});

test.run();
