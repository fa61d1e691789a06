// Loaded with `node --require` by the soak benchmark (bench/soak.py) only, never in production: every
// SOPHIA_GATEWAY_MEMORY_REPORT_MS milliseconds (default 1000) the gateway writes one line to its log,
//   sophia-memory {"rss":..., "heapTotal":..., "heapUsed":..., "external":..., "arrayBuffers":...}
// (bytes, `process.memoryUsage()`), so a growing RSS can be told apart: the JavaScript heap, memory held
// outside it (buffers), or the allocator keeping pages it no longer uses.
'use strict';
const { isMainThread } = require('node:worker_threads');

// Node also runs preloads in the thread of its module loader hooks (source-patches.cjs uses them): only the
// gateway's own thread reports.
if (isMainThread) {
  const every = Number(process.env.SOPHIA_GATEWAY_MEMORY_REPORT_MS) || 1000;
  setInterval(() => {
    process.stderr.write(`sophia-memory ${JSON.stringify(process.memoryUsage())}\n`);
  }, every).unref();
}
