'use strict';
// Settings: defaults shipped with the app, overridden by the user's own file.
const fs = require('node:fs');
const path = require('node:path');

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return {};
  }
}

exports.loadConfig = (root) => ({
  ...readJson(path.join(root, 'config', 'defaults.json')),
  ...readJson(path.join(root, 'config', 'user_settings.json')),
});
