"""A lean HTTP/1.1 connection pool under ``httpx2``, for a gateway reached over plain HTTP (ours, on loopback).

``httpx2``'s own pool (httpcore2, on anyio streams) cost about five times what the manager's own
logic costs per request (a profile of a sequential run: 54% of the event loop's busy time against
10%), and it writes a request's head and body in two system calls. This pool is what the
``GatewayTransport`` plugs into its ``httpx2.AsyncClient`` for ``http://`` gateways: one
``asyncio.Protocol`` per connection, the response parsed by ``httptools`` (the C parser uvicorn
uses), the request written in one call. The client above it is unchanged: requests, responses
(decompression included), server-sent events and timeouts are still ``httpx2``'s, and so are the
exceptions this module raises, which ``app.core.transport.translated_errors`` turns into ours.
Hosted Portkey (``https://``) keeps ``httpx2``'s pool: TLS is not done here.

What it does not do, because our gateway never needs it: TLS, proxies, HTTP/2, ``Expect: 100-continue``,
informational (1xx) answers, upgrades, bodies delimited only by the connection's close (Node frames
every answer with a length or chunks). Connections idle longer than ``keepalive_expiry`` (shorter
than the gateway's own keep-alive) are dropped rather than reused, like ``httpx2``'s pool does.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import cast

import httptools
import httpx2

_PAUSE_AT = 1 << 18
"""Bytes of an unread body after which reading from the socket pauses (a slow consumer of a stream)."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection: sends a request, parses its response as it arrives."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._loop = asyncio.get_running_loop()
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._head: asyncio.Future[None] | None = None
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self._complete = False
        self._keep_alive = False
        self._error: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None

    # ----- asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport to write requests on."""
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio's classes

    def data_received(self, data: bytes) -> None:
        """Feed the response parser; a malformed answer fails the request and the connection."""
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx2.RemoteProtocolError(f"malformed HTTP response from the gateway ({exc})"))
            self.close()

    def eof_received(self) -> bool:
        """The server closed its side: fail an unfinished response, never reuse the connection."""
        self._lost()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection is gone: fail an unfinished response."""
        self._lost()

    # ----- httptools callbacks (the parser calls them as it reads) --------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()
        if self._head is not None and not self._head.done():
            self._head.set_result(None)

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > _PAUSE_AT and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        self._keep_alive = self._parser.should_keep_alive()
        self._complete = True
        self._wake()

    # ----- requests ---------------------------------------------------------------------------------

    async def send(self, head: bytes, body: bytes) -> tuple[int, list[tuple[bytes, bytes]]]:
        """Write one request (in one call) and wait for the response's status and headers."""
        assert self.transport is not None
        self._status, self._headers, self._complete, self._keep_alive = 0, [], False, False
        self._head = self._loop.create_future()
        self.transport.write(head + body)
        if self._error is None and self.closed:
            self._fail(httpx2.RemoteProtocolError("the gateway closed the connection"))
        await self._head
        return self._status, self._headers

    async def body(self) -> AsyncIterator[bytes]:
        """The response body's chunks as they arrive, until the message is complete."""
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                self._buffered -= len(chunk)
                if self._paused and self._buffered <= _PAUSE_AT // 2 and self.transport is not None:
                    self._paused = False
                    self.transport.resume_reading()
                yield chunk
            elif self._complete:
                return
            elif self._error is not None:
                raise self._error
            else:
                self._waiter = self._loop.create_future()
                await self._waiter

    @property
    def reusable(self) -> bool:
        """True when the last response was read to its end and both sides keep the connection."""
        return self._complete and self._keep_alive and not self.closed and not self._chunks

    def close(self) -> None:
        """Close the socket (an unfinished response fails)."""
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _lost(self) -> None:
        self.closed = True
        if not self._complete:
            self._fail(httpx2.ReadError("the gateway closed the connection before the answer was complete"))

    def _fail(self, error: Exception) -> None:
        if self._error is None:
            self._error = error
        if self._head is not None and not self._head.done():
            self._head.set_exception(self._error)
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class _Body(httpx2.AsyncByteStream):
    """A response body read from its connection; the connection goes back to the pool once read whole."""

    def __init__(self, pool: Http11Pool, key: tuple[str, int], connection: _Connection) -> None:
        self._pool = pool
        self._key = key
        self._connection: _Connection | None = connection

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """The body's chunks; a lost connection raises ``httpx2.ReadError``."""
        assert self._connection is not None
        async for chunk in self._connection.body():
            yield chunk

    async def aclose(self) -> None:
        """Hand the connection back (or close it when its response was not read to the end)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            self._pool.release(self._key, connection)


class Http11Pool(httpx2.AsyncBaseTransport):
    """Keep-alive HTTP/1.1 connections per host, at most ``max_connections`` busy at once."""

    def __init__(self, *, max_connections: int = 256, keepalive_expiry: float = 4.0) -> None:
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._slots = asyncio.BoundedSemaphore(max_connections)
        self._keepalive_expiry = keepalive_expiry
        self._open: set[_Connection] = set()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Send ``request`` on an idle connection (or a new one); the response's body is read lazily."""
        url = request.url
        if url.scheme != "http":
            raise httpx2.UnsupportedProtocol(f"this pool speaks plain HTTP only, not {url.scheme}")
        key = (url.host, url.port or 80)
        head = _request_head(request)
        body = await request.aread()
        timeouts = request.extensions.get("timeout", {})
        await self._slots.acquire()
        connection: _Connection | None = None
        try:
            connection = self._reuse(key) or await self._connect(key, timeouts.get("connect"))
            status, headers = await connection.send(head, body)
        except BaseException:
            if connection is not None:
                connection.close()
                self._open.discard(connection)
            self._slots.release()
            raise
        return httpx2.Response(status, headers=headers, stream=_Body(self, key, connection),
                               extensions={"http_version": b"HTTP/1.1"})

    def release(self, key: tuple[str, int], connection: _Connection) -> None:
        """A response is done with ``connection``: keep it for the next request if it can be reused."""
        self._slots.release()
        if connection.reusable:
            connection.idle_since = time.monotonic()
            self._idle.setdefault(key, []).append(connection)
        else:
            connection.close()
            self._open.discard(connection)

    def _reuse(self, key: tuple[str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < self._keepalive_expiry:
                return connection
            connection.close()  # closed by the gateway, or about to be: never send on it
            self._open.discard(connection)
        return None

    async def _connect(self, key: tuple[str, int], timeout: float | None) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, connection = await loop.create_connection(_Connection, key[0], key[1])
        except TimeoutError:
            raise httpx2.ConnectTimeout(f"no connection to {key[0]}:{key[1]} within {timeout} s") from None
        except OSError as exc:
            raise httpx2.ConnectError(f"{key[0]}:{key[1]}: {exc.strerror or exc}") from None
        self._open.add(connection)
        return connection

    async def aclose(self) -> None:
        """Close every connection, busy or idle."""
        for connection in self._open:
            connection.close()
        self._open.clear()
        self._idle.clear()


def _request_head(request: httpx2.Request) -> bytes:
    target = request.url.raw_path
    lines = [request.method.encode(), b" ", target, b" HTTP/1.1\r\n"]
    for name, value in request.headers.raw:
        lines += (name, b": ", value, b"\r\n")
    lines.append(b"\r\n")
    return b"".join(lines)
