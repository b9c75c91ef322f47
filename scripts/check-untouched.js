#!/usr/bin/env node
'use strict';
/**
 * Shows an update left alone every file it had no reason to touch: each regular file that is
 * byte- and mode-identical in the old and new release must have the same inode in the target
 * after the update as before it.
 *
 * usage: node scripts/check-untouched.js OLD_RELEASE_DIR NEW_RELEASE_DIR TARGET INODES_BEFORE
 *   INODES_BEFORE is `node scripts/tree-listing.js TARGET --inodes` saved before the update.
 * Prints the number of such files; exit 1 naming the ones that were rewritten, 2 on bad usage.
 */
const fs = require('node:fs');
const { listTree, formatEntry } = require('./tree-listing.js');

const args = process.argv.slice(2);
if (args.length !== 4) {
  process.stderr.write('usage: node scripts/check-untouched.js OLD_RELEASE_DIR NEW_RELEASE_DIR TARGET INODES_BEFORE\n');
  process.exit(2);
}
const [oldRel, newRel, target, beforeFile] = args;
const files = (d) => listTree(d, { dirs: false }).filter((e) => e.type === 'f');
const inNew = new Set(files(newRel).map(formatEntry));
const unchanged = files(oldRel).filter((e) => inNew.has(formatEntry(e))).map((e) => e.path);
const before = new Map(
  fs.readFileSync(beforeFile, 'utf8').split('\n').filter(Boolean).map((l) => {
    const sp = l.indexOf(' ');
    return [l.slice(sp + 1), l.slice(0, sp)];
  }),
);
const after = new Map(listTree(target, { hash: false }).map((e) => [e.path, String(e.ino)]));
const rewritten = unchanged.filter((p) => before.get(p) === undefined || before.get(p) !== after.get(p));
if (rewritten.length > 0) {
  const shown = rewritten.slice(0, 20).map((p) => `  ${p} (inode ${before.get(p)} -> ${after.get(p)})`);
  process.stderr.write(
    `check-untouched: ${rewritten.length} of ${unchanged.length} files identical in both releases were rewritten by the update; expected the same inode before and after:\n${shown.join('\n')}\n`,
  );
  process.exit(1);
}
process.stdout.write(`${unchanged.length}\n`);
