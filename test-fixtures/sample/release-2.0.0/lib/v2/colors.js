'use strict';
const THEMES = { light: '\u001b[34m', dark: '\u001b[36m' };

exports.paint = (text, theme = 'light') => `${THEMES[theme] || THEMES.light}${text}\u001b[0m`;
