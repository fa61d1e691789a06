// Loaded with `node --require` before the Portkey gateway starts. Its jobs (none changes a response body):
//  1. The gateway has no host flag and binds every interface; force every listen() onto loopback
//     (SOPHIA_GATEWAY_HOST, default 127.0.0.1) so provider keys sent in configs never leave the machine.
//  2. The gateway only reports which target finally served (x-portkey-last-used-option-index). To give
//     callers every attempt's outcome, record each upstream fetch made while handling a request and add
//     them as the response header `x-sophia-attempts`: JSON [{"o": origin, "m": model, "s": status} or
//     {"o", "m", "e": error}]. URLs are reduced to their origin, so no query string (or key in one) is
//     ever echoed; the model tells apart two targets on the same host.
//     How a fetch is tied to its request: each incoming request gets a call id in a header,
//     `x-sophia-call`, that the gateway forwards to its upstream fetches (`x-portkey-forward-headers`,
//     which this preload sets on the request, appending to the client's own list if it sent one); the
//     fetch wrapper takes the id out again, so no provider ever sees it. (Until 2026-11 this used an
//     AsyncLocalStorage; on Node 20 that turns on promise hooks for every promise of the process, and
//     cost the gateway 15-25% more CPU per request and slower garbage collections.) A caller that
//     sets `x-portkey-forward-headers` in a config's target instead of the request header would lose it:
//     the request header wins in the gateway; our configs never set it.
//  3. Bound a plain (non-stream) answer's body: once a provider's headers arrive, the gateway reads its
//     whole body before it answers anything, and it has no deadline for that read, so a provider that
//     sends 200 and then goes silent holds the request forever. When the request carries
//     `x-sophia-body-timeout-ms`, a body not complete within that time is aborted; the gateway then
//     answers 500 without falling back (as for an unreadable body), the attempt is reported with
//     `"e": "stalled"`, and our client goes on with the rest of the chain. The timer of an attempt is
//     cleared when the gateway starts its next attempt or when the answer to the client is done (the
//     gateway reads an attempt's whole body before either), so nothing it holds outlives the request.
//     Streams are left alone: the gateway passes them on, and our client bounds them itself.
//  4. A caller that hangs up ends the call: the gateway goes on with a request whose client has gone (it
//     keeps waiting on the provider, then retries and falls back to the next target, paying for answers
//     nobody reads). When the response closes before it was sent, the upstream fetch in flight is aborted
//     and no further one starts (retries and fallbacks fail at once, without a network call).
//  5. Stop cleanly on SIGTERM/SIGINT: stop accepting, let in-flight requests finish (2 s at most), exit 0.
'use strict';
const net = require('node:net');
const http = require('node:http');

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

const CALL_HEADER = 'x-sophia-call';
const FORWARD_HEADER = 'x-portkey-forward-headers';
const calls = new Map(); // call id -> { attempts, bodyTimeoutMs, timer } of the requests in flight
let lastCall = 0;

// Adds the call id to the request (and to the headers the gateway forwards) before the gateway reads it:
// the gateway builds its Request from rawHeaders.
function tagRequest(req, id) {
  const raw = req.rawHeaders;
  let tagged = false;
  let forwarded = -1;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (name === CALL_HEADER) {
      raw[i + 1] = id; // a client's own value never picks another request's context
      tagged = true;
    } else if (name === FORWARD_HEADER) {
      forwarded = i;
    }
  }
  if (!tagged) raw.push(CALL_HEADER, id);
  if (forwarded < 0) raw.push(FORWARD_HEADER, CALL_HEADER);
  else raw[forwarded + 1] = `${raw[forwarded + 1]},${CALL_HEADER}`;
}

const originalEmit = http.Server.prototype.emit;
http.Server.prototype.emit = function emit(event, req, res, ...rest) {
  if (event === 'request') {
    const id = String((lastCall += 1));
    const call = { attempts: [], bodyTimeoutMs: Number(req.headers['x-sophia-body-timeout-ms']) || 0,
      timer: null, hangup: new AbortController() };
    res.__sophiaAttempts = call.attempts;
    calls.set(id, call);
    tagRequest(req, id);
    res.once('close', () => {
      if (!res.writableFinished) call.hangup.abort(); // the caller hung up: abort the fetch in flight
      clearTimeout(call.timer);
      calls.delete(id); // a later fetch of this call (a retry, a fallback) finds it gone and fails at once
    });
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

// The call a gateway fetch belongs to, and the fetch's options without the call id (a copy: the gateway
// sends the same options again when it retries, and each retry must still be found).
function callOf(init) {
  const headers = init && init.headers;
  if (!headers || Array.isArray(headers)) return [undefined, init, false];
  let id;
  let stripped;
  if (typeof headers.get === 'function') {
    id = headers.get(CALL_HEADER);
    if (id === null) return [undefined, init, false];
    stripped = new Headers(headers);
    stripped.delete(CALL_HEADER);
  } else {
    const name = Object.keys(headers).find((n) => n.toLowerCase() === CALL_HEADER);
    if (name === undefined) return [undefined, init, false];
    id = headers[name];
    stripped = { ...headers };
    delete stripped[name];
  }
  return [calls.get(String(id)), { ...init, headers: stripped }, true];
}

const originalFetch = globalThis.fetch;
// One signal aborted when any of `signals` is. Not AbortSignal.any: it keeps its sources in WeakRefs,
// which every scavenge keeps alive, so each request's signals would be promoted to the old generation.
function anyOf(signals) {
  if (signals.length === 1) return signals[0];
  const controller = new AbortController();
  const abort = () => controller.abort();
  for (const signal of signals) {
    if (signal.aborted) controller.abort();
    else signal.addEventListener('abort', abort, { once: true });
  }
  return controller.signal;
}

globalThis.fetch = async function fetch(input, options) {
  const [context, stripped, tagged] = callOf(options);
  let init = stripped;
  if (!context) {
    // A fetch of a call whose caller has gone (the call id is known, its request closed) never starts.
    if (tagged) throw new DOMException('the caller hung up', 'AbortError');
    return originalFetch(input, init);
  }
  clearTimeout(context.timer); // the previous attempt's body was read whole before this one started
  const entry = { o: originOf(input) };
  const body = init && typeof init.body === 'string' ? init.body : '';
  const model = /"model"\s*:\s*"([^"]{1,200})"/.exec(body);
  if (model) entry.m = model[1];
  context.attempts.push(entry);
  const bounded = context.bodyTimeoutMs > 0 && !/"stream"\s*:\s*true/.test(body);
  const controller = new AbortController();
  // Once the caller has hung up this signal is aborted, so every later fetch (a retry, a fallback) fails
  // at once without a network call.
  const signals = [context.hangup.signal, ...(bounded ? [controller.signal] : []),
    ...(init && init.signal ? [init.signal] : [])];
  init = { ...init, signal: anyOf(signals) };
  try {
    const response = await originalFetch(input, init);
    entry.s = response.status;
    if (bounded && response.body) {
      // The body must be complete within the deadline: the gateway reads it whole before it starts the
      // next attempt or answers, and either clears this timer.
      context.timer = setTimeout(() => {
        entry.e = 'stalled';
        controller.abort();
      }, context.bodyTimeoutMs);
      context.timer.unref();
    }
    return response;
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
