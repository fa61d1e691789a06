"""Bearer-token auth, per-caller rate limits (moving window) and a request body size limit.

Rate limits live in Redis when REDIS_URL is set, so every instance behind a load balancer counts
against the same window; otherwise in this process's memory. A limiter store that fails lets the
request through (one warning): losing rate limiting must not take the API down.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import time
from collections.abc import Iterable

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.outage import Outage
from app.core.redis_link import limits_storage
from app.service.errors import error_body
from app.service.moving_window import MovingWindow

log = logging.getLogger("app.service")


class Unauthorized(Exception):
    """The request has no valid bearer token."""

    pass


class RateLimited(Exception):
    """The caller is over its rate; ``retry_after`` is in whole seconds."""

    def __init__(self, retry_after: int, limit: str) -> None:
        super().__init__(f"rate limit of {limit} exceeded; retry in {retry_after} s")
        self.retry_after = retry_after


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:24]


class Authenticator:
    """Checks ``Authorization: Bearer <token>`` against SOPHIA_API_KEYS, in constant time."""

    def __init__(self, tokens: Iterable[str], enabled: bool) -> None:
        self._digests = [hashlib.sha256(t.encode()).digest() for t in tokens]
        self.enabled = enabled

    def identify(self, authorization: str | None, client_ip: str) -> str:
        """The rate-limit identity of a caller (a token digest, or its IP when auth is off)."""
        if not self.enabled:
            return f"ip:{client_ip}"
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("missing bearer token: send 'Authorization: Bearer <one of SOPHIA_API_KEYS>'")
        digest = hashlib.sha256(token.strip().encode()).digest()
        if not any(hmac.compare_digest(digest, known) for known in self._digests):
            raise Unauthorized("invalid bearer token")
        return f"token:{_digest(token.strip())}"


class RateLimiter:
    """Per-caller moving-window limits, in Redis when ``redis_url`` is given, else in memory."""

    def __init__(self, rate: str, redis_url: str | None, namespace: str) -> None:
        self.rate: RateLimitItem = parse(rate)
        self.text = rate
        self.namespace = namespace
        self.shared = bool(redis_url)
        # In memory, our own window (see app.service.moving_window for why not the library's storage).
        self._local = None if self.shared else MovingWindow(self.rate.amount, self.rate.get_expiry())
        # Short timeouts (with Redis unreachable, a request must not wait for the OS connect timeout),
        # and a pool that reconnects a stale connection instead of reporting an outage.
        self.storage: Storage | None = limits_storage(redis_url, f"{namespace}-ratelimit") if self.shared else None
        self._limiter = MovingWindowRateLimiter(self.storage) if self.storage is not None else None
        self.outage = Outage("rate limiter store", 1.0, log, consequence="requests are not rate limited")

    async def check(self, identity: str) -> None:
        """Count one request of ``identity``; raises RateLimited when over the rate."""
        if self._local is not None:
            wait = self._local.hit(identity)
            if wait is not None:
                raise RateLimited(max(1, math.ceil(wait)), self.text)
            return
        assert self._limiter is not None
        if self.outage.paused:
            return  # the store failed a moment ago: let requests through rather than wait on it again
        try:
            allowed = await self._limiter.hit(self.rate, self.namespace, identity)
            if allowed:
                self.outage.succeeded()
                return
            stats = await self._limiter.get_window_stats(self.rate, self.namespace, identity)
        except Exception as exc:  # noqa: BLE001 - a broken limiter store must not block the API
            self.outage.failed(type(exc).__name__)
            return
        raise RateLimited(max(1, math.ceil(stats.reset_time - time.time())), self.text)


class BodyLimitMiddleware:
    """Answers 413 for bodies over ``max_bytes``, by Content-Length or by counting a chunked body."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer 413 once its body is known to exceed the limit."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._reject(send)
                return
        if not any(name == b"content-length" for name, _ in scope.get("headers", [])):
            # A chunked body has no declared size: read it here (bounded) and replay it.
            chunks: list[bytes] = []
            size = 0
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    break
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                if size > self.max_bytes:
                    await self._reject(send)
                    return
                if not message.get("more_body"):
                    break
            replay: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

            async def replay_receive() -> Message:
                return replay.pop() if replay else await receive()

            await self.app(scope, replay_receive, send)
            return
        await self.app(scope, receive, send)

    async def _reject(self, send: Send) -> None:
        import json

        body = json.dumps(error_body(413, f"request body larger than {self.max_bytes} bytes",
                                     code="request_too_large")).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
