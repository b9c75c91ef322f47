'use strict';
exports.pad = (s, n) => String(s).padEnd(n);
exports.truncate = (s, n) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
exports.bullet = (s) => `- ${s}`;
