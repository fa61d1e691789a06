// Loaded with `node --require` before the Portkey gateway starts. Its jobs (none changes a response body):
//  1. The gateway has no host flag and binds every interface; force every listen() onto loopback
//     (SOPHIA_GATEWAY_HOST, default 127.0.0.1) so provider keys sent in configs never leave the machine.
//  2. The gateway only reports which target finally served (x-portkey-last-used-option-index). To give
//     callers every attempt's outcome, record each upstream fetch made while handling a request and add
//     them as the response header `x-sophia-attempts`: JSON [{"o": origin, "m": model, "s": status} or
//     {"o", "m", "e": error}]. URLs are reduced to their origin, so no query string (or key in one) is
//     ever echoed; the model tells apart two targets on the same host.
//  3. Bound a plain (non-stream) answer's body: once a provider's headers arrive, the gateway reads its
//     whole body before it answers anything, and it has no deadline for that read, so a provider that
//     sends 200 and then goes silent holds the request forever. When the request carries
//     `x-sophia-body-timeout-ms`, a body not complete within that time is aborted; the gateway then
//     answers 500 without falling back (as for an unreadable body), the attempt is reported with
//     `"e": "stalled"`, and our client goes on with the rest of the chain. Streams are left alone:
//     the gateway passes them on, and our client bounds them itself.
//  4. A caller that hangs up ends the call: the gateway goes on with a request whose client has gone (it
//     keeps waiting on the provider, then retries and falls back to the next target, paying for answers
//     nobody reads). When the response closes before it was sent, the upstream fetch in flight is aborted
//     and no further one starts (retries and fallbacks fail at once, without a network call).
//  5. Stop cleanly on SIGTERM/SIGINT: stop accepting, let in-flight requests finish (2 s at most), exit 0.
'use strict';
const net = require('node:net');
const http = require('node:http');
const { AsyncLocalStorage } = require('node:async_hooks');

const host = process.env.SOPHIA_GATEWAY_HOST || '127.0.0.1';
const servers = new Set();
const originalListen = net.Server.prototype.listen;
net.Server.prototype.listen = function listen(...args) {
  servers.add(this);
  if (typeof args[0] === 'object' && args[0] !== null && !Array.isArray(args[0])) {
    args[0] = { ...args[0], host };
  } else if (typeof args[0] === 'number' || typeof args[0] === 'string') {
    const port = args[0];
    const rest = args.slice(1).filter((a) => typeof a === 'function' || typeof a === 'number');
    const callback = rest.find((a) => typeof a === 'function');
    const backlog = rest.find((a) => typeof a === 'number');
    args = [{ port: Number(port), host, ...(backlog ? { backlog } : {}) }];
    if (callback) args.push(callback);
  }
  return originalListen.apply(this, args);
};

const requestStore = new AsyncLocalStorage();
const originalEmit = http.Server.prototype.emit;
http.Server.prototype.emit = function emit(event, req, res, ...rest) {
  if (event === 'request') {
    const attempts = [];
    res.__sophiaAttempts = attempts;
    const bodyTimeoutMs = Number(req.headers['x-sophia-body-timeout-ms']) || 0;
    const hangup = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) hangup.abort();
    });
    return requestStore.run({ attempts, bodyTimeoutMs, hangup: hangup.signal },
      () => originalEmit.call(this, event, req, res, ...rest));
  }
  return originalEmit.call(this, event, req, res, ...rest);
};

const originalWriteHead = http.ServerResponse.prototype.writeHead;
http.ServerResponse.prototype.writeHead = function writeHead(status, ...rest) {
  const attempts = this.__sophiaAttempts;
  if (attempts && attempts.length && !this.headersSent) {
    try {
      this.setHeader('x-sophia-attempts', JSON.stringify(attempts));
    } catch (_) {
      // headers passed to writeHead as an array cannot be mixed with setHeader; skip the report
    }
  }
  return originalWriteHead.call(this, status, ...rest);
};

function originOf(input) {
  try {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    return new URL(url).origin;
  } catch (_) {
    return 'unknown';
  }
}

function errorName(err) {
  const code = (err && err.cause && err.cause.code) || (err && err.code);
  if (err && err.name === 'AbortError') return 'timeout';
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'connection dropped';
  return code ? String(code) : (err && err.name) || 'fetch failed';
}

// The same response with its body piped through a watch: aborted (and the attempt marked stalled) unless
// the body is complete within `ms` of the headers.
function bodyWithin(response, ms, controller, entry) {
  if (!response.body) return response;
  const timer = setTimeout(() => {
    entry.e = 'stalled';
    controller.abort();
  }, ms);
  timer.unref();
  const watched = response.body.pipeThrough(new TransformStream({ flush() { clearTimeout(timer); } }));
  return new Response(watched, { status: response.status, statusText: response.statusText,
    headers: response.headers });
}

const originalFetch = globalThis.fetch;
globalThis.fetch = async function fetch(input, init) {
  const context = requestStore.getStore();
  if (!context) return originalFetch(input, init);
  const entry = { o: originOf(input) };
  const body = init && typeof init.body === 'string' ? init.body : '';
  const model = /"model"\s*:\s*"([^"]{1,200})"/.exec(body);
  if (model) entry.m = model[1];
  context.attempts.push(entry);
  const bounded = context.bodyTimeoutMs > 0 && !/"stream"\s*:\s*true/.test(body);
  const controller = new AbortController();
  // Once the caller has hung up this signal is aborted, so every later fetch (a retry, a fallback) fails
  // at once without a network call.
  const signals = [context.hangup, ...(bounded ? [controller.signal] : []), ...(init && init.signal ? [init.signal] : [])];
  init = { ...init, signal: AbortSignal.any(signals) };
  try {
    const response = await originalFetch(input, init);
    entry.s = response.status;
    return bounded ? bodyWithin(response, context.bodyTimeoutMs, controller, entry) : response;
  } catch (err) {
    entry.e = errorName(err);
    throw err;
  }
};

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  const force = setTimeout(() => process.exit(0), 2000);
  force.unref();
  let open = servers.size;
  if (!open) process.exit(0);
  for (const server of servers) {
    server.close(() => {
      open -= 1;
      if (open === 0) process.exit(0);
    });
    if (typeof server.closeIdleConnections === 'function') server.closeIdleConnections();
  }
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
