#!/usr/bin/env node
'use strict';
// File copies, hashes and fsyncs run on libuv's thread pool; 4 threads (the default) leave the
// disk idle between fsyncs. Must be set before the pool starts.
if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = '16';
require('../dist/main.js').run();
