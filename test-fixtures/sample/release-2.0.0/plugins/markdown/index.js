'use strict';
// `bin/run markdown`: prints the user's notes as a Markdown list.
const fs = require('node:fs');
const path = require('node:path');
const { bullet } = require('../../lib/current/strings');

module.exports = (_args, { root }) => {
  let notes = '';
  try {
    notes = fs.readFileSync(path.join(root, 'user_data', 'notes.txt'), 'utf8');
  } catch {
    // no notes yet
  }
  for (const line of notes.split('\n').filter(Boolean)) console.log(bullet(line));
};
