import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { relAncestors, targetLayout } from '@codemate-txn/core';

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

test.run();
