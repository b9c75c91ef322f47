'use strict';
// Entry point: dispatches to app/commands/<name>.js.
const path = require('node:path');
const { loadConfig } = require('./config');

const root = path.resolve(__dirname, '..');
const [name = 'help', ...args] = process.argv.slice(2);
const command = name === '--version' ? 'version' : name;

let run;
try {
  run = require(`./commands/${command}`);
} catch {
  console.error(`sample: unknown command '${name}' (try: greet, note, version)`);
  process.exit(2);
}
run(args, { root, config: loadConfig(root) });
