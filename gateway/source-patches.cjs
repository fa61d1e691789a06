// Loaded with `node --require` before the Portkey gateway starts (next to loopback-preload.cjs).
// Applies reviewed text patches to the pinned gateway's built code as Node loads it, in memory: the files
// in node_modules stay exactly as `npm ci` installed them. Why a load hook rather than patch-package: the
// build is one minified 480 KB line, so a diff-based patch would carry that whole line twice and could not
// be reviewed; here each patch is the exact text it replaces, next to the reason.
//
// A patch never silently stops applying. Before the gateway loads, each patched file must have the SHA-256
// it was reviewed against and contain its text exactly once; and the server may only start listening once
// every patch was applied to the code Node actually loaded. Otherwise the gateway exits with an error
// naming the patch. When the pinned gateway version changes: re-read the patch against the new source,
// then update `sha256` (and `find`/`replace` if the minified text moved).
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const PATCHES = [
  {
    name: 'stream-first-chunk-wait',
    file: 'node_modules/@portkey-ai/gateway/build/start-server.js', // @portkey-ai/gateway 1.15.2
    sha256: 'a033c472ffe6e43f9c82301960d5e12ca356d4cbe02ed6a78e1e434ce5d1f035',
    // readStream() in src/handlers/streamHandler.ts sleeps 25 ms before the first chunk of every stream
    // (`if (isFirstChunk) { isFirstChunk = false; await new Promise(r => setTimeout(r, 25)); }`), added
    // upstream in 2023 "to avoid irregular worker behaviour" (commit 8de5583d, for Cloudflare Workers); on
    // Node it only delays every stream's first token. Keep the flag flip, drop the sleep. The 1 ms sleep
    // between Azure OpenAI chunks (`r&&...`) is left alone.
    find: 'l?(l=!1,await new Promise((e=>setTimeout(e,25)))):r&&',
    replace: 'l?(l=!1):r&&',
  },
];

class SourcePatchError extends Error {
  constructor(patch, problem) {
    super(
      `gateway source patch "${patch.name}" not applied to ${patch.file}: ${problem}. The gateway ` +
        'refuses to run unpatched; review gateway/source-patches.cjs against the installed gateway.',
    );
    this.name = 'SourcePatchError';
  }
}

function occurrences(text, part) {
  let count = 0;
  for (let at = text.indexOf(part); at !== -1; at = text.indexOf(part, at + part.length)) count += 1;
  return count;
}

// Checks `source` (the file's bytes) against the patch and returns the patched text; throws otherwise.
function patchSource(patch, source) {
  const digest = crypto.createHash('sha256').update(source).digest('hex');
  if (digest !== patch.sha256) throw new SourcePatchError(patch, `its SHA-256 is ${digest}, not ${patch.sha256}`);
  const text = Buffer.from(source).toString('utf8');
  const found = occurrences(text, patch.find);
  if (found !== 1) throw new SourcePatchError(patch, `the text to replace occurs ${found} times, not once`);
  return text.replace(patch.find, () => patch.replace);
}

// The file URL Node loads each patch's file under (symlinks resolved, as the ES module loader does).
function patchesByUrl(gatewayDir) {
  const byUrl = {};
  for (const patch of PATCHES) {
    const file = path.join(gatewayDir, patch.file);
    if (!fs.existsSync(file)) throw new SourcePatchError(patch, 'the file is missing (run `npm ci` in gateway/)');
    patchSource(patch, fs.readFileSync(file)); // fail before anything loads, not halfway
    byUrl[pathToFileURL(fs.realpathSync(file)).href] = patch;
  }
  return byUrl;
}

module.exports = { PATCHES, SourcePatchError, patchSource, patchesByUrl };

// Node's module loader runs the off-thread hooks of module.register() in a worker thread that imports
// this file again for patchSource(); only the main thread installs anything.
if (require('node:worker_threads').isMainThread) install();

function install() {
  const nodeModule = require('node:module');
  const byUrl = patchesByUrl(__dirname);
  const applied = new Set();

  if (typeof nodeModule.registerHooks === 'function') {
    // Node >= 22.15: synchronous, in-thread hooks (module.register is deprecated from Node 26 on).
    nodeModule.registerHooks({
      load(url, context, nextLoad) {
        const result = nextLoad(url, context);
        const patch = byUrl[url];
        if (!patch) return result;
        const source = patchSource(patch, result.source);
        applied.add(patch.name);
        return { ...result, source };
      },
    });
    checkBeforeListening(() => applied);
    return;
  }

  // Node 20 and early 22: asynchronous hooks in the loader's worker thread, which reports back on a port.
  const { MessageChannel, receiveMessageOnPort } = require('node:worker_threads');
  const { port1, port2 } = new MessageChannel();
  port1.unref();
  nodeModule.register('./source-patches-hooks.mjs', pathToFileURL(__filename), {
    data: { byUrl, port: port2 },
    transferList: [port2],
  });
  checkBeforeListening(() => {
    for (let message = receiveMessageOnPort(port1); message; message = receiveMessageOnPort(port1)) {
      applied.add(message.message);
    }
    return applied;
  });
}

// The gateway calls listen() while its entry module runs, i.e. after that module was loaded (and patched).
function checkBeforeListening(appliedNames) {
  const net = require('node:net');
  let reported = false;
  const originalListen = net.Server.prototype.listen;
  net.Server.prototype.listen = function listen(...args) {
    const applied = appliedNames();
    const missing = PATCHES.filter((p) => !applied.has(p.name));
    if (missing.length) {
      throw new SourcePatchError(missing[0], 'Node loaded the server without passing the file through the patch');
    }
    if (!reported) {
      reported = true;
      console.error(`sophia: gateway source patches applied: ${[...applied].sort().join(', ')}`);
    }
    return originalListen.apply(this, args);
  };
}
