'use strict';
const fs = require('node:fs');
const path = require('node:path');

module.exports = (args, { root }) => {
  const dir = path.join(root, 'user_data');
  fs.mkdirSync(dir, { recursive: true });
  fs.appendFileSync(path.join(dir, 'notes.txt'), `${new Date().toISOString()} ${args.join(' ')}\n`);
  console.log('noted');
};
