'use strict';
const { format } = require('../../lib/current/format');

module.exports = (args, { config }) => {
  const who = args[0] || config.defaultName || 'world';
  console.log(format(`${config.greeting || 'Hello'}, ${who}!`, config));
};
