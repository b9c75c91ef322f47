'use strict';
// v1 formatting: plain text only.
exports.format = (text) => text;
