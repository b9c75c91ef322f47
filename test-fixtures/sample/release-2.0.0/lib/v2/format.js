'use strict';
// v2 formatting: optional ANSI colour, off unless the settings ask for it.
const { paint } = require('./colors');

exports.format = (text, config = {}) => (config.color ? paint(text, config.theme) : text);
