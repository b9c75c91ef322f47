#!/usr/bin/env node
'use strict';
/**
 * Canonical listing of a directory tree, one entry per line, sorted bytewise: the same lines as
 * `snap` in shared/acceptance/lib.sh and testkit's snapshotTree.
 *   f <mode> <path> <sha256>   regular file (content hashed; mtimes are ignored on purpose:
 *                              npm tarballs date every file 1985)
 *   l - <path> <target>        symlink, never followed
 *   d <mode> <path>            directory
 *   o - <path>                 anything else (fifo, socket, device)
 * mode is octal without leading zeros.
 *
 * usage: node scripts/tree-listing.js DIR [--exclude PATH]... [--only PATH]... [--no-dirs] [--inodes]
 *   --exclude PATH  leave out PATH (relative, '/'-separated) and everything beneath it
 *   --only PATH     list only PATH and what is beneath it (repeatable)
 *   --no-dirs       leave out directory lines
 *   --inodes        print `<inode> <path>` for regular files instead (to show a file was not touched)
 * Exit 0, or 2 on bad usage or a missing DIR.
 *
 * As a module: `const { listTree, formatEntry } = require('./tree-listing.js')`;
 * listTree(dir, { exclude: [], only: [], dirs: true }) returns the entries, sorted as printed:
 * { type: 'f'|'l'|'d'|'o', mode, path, sha256?, target?, ino }.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

function listTree(root, { exclude = [], only = [], dirs = true, hash = true } = {}) {
  const strip = (p) => p.replace(/\/+$/, '');
  const excludes = exclude.map(strip);
  const onlys = only.map(strip);
  const within = (rel, p) => rel === p || rel.startsWith(`${p}/`);
  // A directory on the way to an --only path is walked, though not listed.
  const onTheWay = (rel) => onlys.some((p) => p.startsWith(`${rel}/`));
  const listed = (rel) => onlys.length === 0 || onlys.some((p) => within(rel, p));
  const entries = [];
  (function visit(dirAbs, dirRel) {
    for (const name of fs.readdirSync(dirAbs)) {
      const rel = dirRel === '' ? name : `${dirRel}/${name}`;
      if (excludes.some((p) => within(rel, p))) continue;
      const show = listed(rel);
      if (!show && !onTheWay(rel)) continue;
      const abs = path.join(dirAbs, name);
      const st = fs.lstatSync(abs);
      const e = { type: 'o', mode: (st.mode & 0o7777).toString(8), path: rel, ino: st.ino };
      if (st.isFile()) {
        e.type = 'f';
        if (hash) e.sha256 = crypto.createHash('sha256').update(fs.readFileSync(abs)).digest('hex');
      } else if (st.isSymbolicLink()) {
        e.type = 'l';
        e.target = fs.readlinkSync(abs);
      } else if (st.isDirectory()) e.type = 'd';
      if (show && (dirs || e.type !== 'd')) entries.push(e);
      if (st.isDirectory()) visit(abs, rel);
    }
  })(root, '');
  const keyed = entries.map((e) => [Buffer.from(formatEntry(e)), e]);
  keyed.sort((a, b) => Buffer.compare(a[0], b[0]));
  return keyed.map(([, e]) => e);
}

function formatEntry(e) {
  if (e.type === 'f') return `f ${e.mode} ${e.path} ${e.sha256 ?? ''}`;
  if (e.type === 'l') return `l - ${e.path} ${e.target}`;
  if (e.type === 'd') return `d ${e.mode} ${e.path}`;
  return `o - ${e.path}`;
}

function main(argv) {
  const usage = (msg) => {
    process.stderr.write(`tree-listing: ${msg}\nusage: node scripts/tree-listing.js DIR [--exclude PATH]... [--only PATH]... [--no-dirs] [--inodes]\n`);
    process.exit(2);
  };
  const opts = { exclude: [], only: [], dirs: true };
  let root;
  let inodes = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--exclude' || a === '--only') {
      const v = argv[++i];
      if (v === undefined || v === '') usage(`${a} needs a path`);
      opts[a.slice(2)].push(v);
    } else if (a === '--no-dirs') opts.dirs = false;
    else if (a === '--inodes') inodes = true;
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else if (root === undefined) root = a;
    else usage(`unexpected argument ${a}`);
  }
  if (root === undefined) usage('expected a directory');
  if (!fs.existsSync(root) || !fs.lstatSync(root).isDirectory()) usage(`not a directory: ${root}`);
  if (inodes) {
    const files = listTree(root, { ...opts, hash: false }).filter((e) => e.type === 'f');
    const lines = files.map((e) => `${e.ino} ${e.path}`);
    process.stdout.write(lines.length ? `${lines.join('\n')}\n` : '');
    return;
  }
  const lines = listTree(root, opts).map(formatEntry);
  process.stdout.write(lines.length ? `${lines.join('\n')}\n` : '');
}

module.exports = { listTree, formatEntry };
if (require.main === module) main(process.argv.slice(2));
