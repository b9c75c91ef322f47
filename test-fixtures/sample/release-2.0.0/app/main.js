'use strict';
// Entry point: built-in --version, then app/commands/<name>.js, then plugins/<name>/.
const fs = require('node:fs');
const path = require('node:path');
const { loadConfig } = require('./config');

const root = path.resolve(__dirname, '..');
const [name = 'help', ...args] = process.argv.slice(2);

if (name === '--version' || name === 'version') {
  console.log(require(`${root}/package.json`).version);
  process.exit(0);
}

const candidates = [path.join(__dirname, 'commands', `${name}.js`), path.join(root, 'plugins', name, 'index.js')];
const file = candidates.find((f) => fs.existsSync(f));
if (!file) {
  console.error(`sample: unknown command '${name}' (try: greet, note, markdown, --version)`);
  process.exit(2);
}
require(file)(args, { root, config: loadConfig(root) });
