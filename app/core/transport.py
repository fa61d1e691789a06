"""The one HTTP path to the Portkey gateway, and the one place that knows its HTTP library.

``Transport`` is the seam: the manager sends every request through one, and tests hand it an
``httpx2.MockTransport`` (through ``GatewayTransport(client_factory=...)``) to drive the failover
rules without a gateway. ``GatewayTransport`` keeps one pooled ``httpx2.AsyncClient`` per event
loop: a client is bound to the loop it first ran on, and the spec's examples each call
``asyncio.run`` (a new loop every time), while a service or a benchmark (one loop) gets exactly
one pool. Every ``httpx2`` exception, whether raised while connecting, waiting for headers or
reading a stream, is translated into ours by ``translated_errors``, here and nowhere else.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any, Protocol

import httpx2

from app.core.errors import GatewayConnectionError, GatewayTimeoutError, GatewayUnavailableError
from app.core.http11 import Http11Pool

ClientFactory = Callable[[], httpx2.AsyncClient]
Response = httpx2.Response


class Transport(Protocol):
    """Sends a request body to a gateway path; what every call of the manager goes through."""

    base_url: str

    async def post(self, path: str, content: bytes, headers: Mapping[str, str], timeout: float) -> Response:
        """The whole answer within ``timeout`` seconds; raises ``GatewayConnectionError`` when none came."""
        ...

    def stream(self, path: str, content: bytes, headers: Mapping[str, str],
               timeout: float) -> AbstractAsyncContextManager[Response]:
        """The answer with its body unread (read it with ``events``); closed on exit."""
        ...

    def events(self, response: Response, timeout: float) -> AsyncGenerator[str, None]:
        """The ``data`` of each server-sent event of a streamed answer, in order.

        Raises ``GatewayConnectionError`` when the connection is lost, ``ValueError`` when the answer
        is not an event stream. How long to wait for each event is the reader's to bound; ``timeout``
        is the bound it uses, for the error's message.
        """
        ...

    async def aclose(self) -> None:
        """Release the connections of the running event loop."""
        ...


@contextmanager
def translated_errors(base_url: str, timeout: float) -> Iterator[None]:
    """``httpx2`` exceptions raised inside become ``GatewayConnectionError``s."""
    try:
        yield
    except TimeoutError:  # our own hard bound (asyncio), not httpx2's per-read one
        raise GatewayTimeoutError(base_url, timeout) from None
    except httpx2.ConnectTimeout:
        raise GatewayUnavailableError(base_url, "connect timeout") from None
    except httpx2.TimeoutException:
        raise GatewayTimeoutError(base_url, timeout) from None
    except httpx2.TransportError as exc:
        raise GatewayUnavailableError(base_url, type(exc).__name__) from None


class GatewayTransport:
    """``Transport`` over a pooled ``httpx2.AsyncClient`` per event loop."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        headers: Mapping[str, str] | None = None,
        max_connections: int = 256,
        client_factory: ClientFactory | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._headers = dict(headers or {})
        # Idle connections are dropped before the gateway's (Node's) 5 s keep-alive timeout closes them,
        # so a request is never sent on a socket the server is closing (a spurious ReadError).
        self._limits = httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections,
                                     keepalive_expiry=4.0)
        self._factory = client_factory or self._default_client
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx2.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )

    def _default_client(self) -> httpx2.AsyncClient:
        # A gateway over plain HTTP (ours, on loopback) gets the lean pool (app.core.http11); TLS
        # (hosted Portkey) stays with httpx2's own.
        pool = None
        if self.base_url.startswith("http://"):
            pool = Http11Pool(max_connections=self._limits.max_connections or 256,
                              keepalive_expiry=self._limits.keepalive_expiry or 4.0)
        return httpx2.AsyncClient(
            base_url=self.base_url,
            headers=self._headers,
            timeout=httpx2.Timeout(self._timeout, connect=5.0),
            limits=self._limits,
            transport=pool,
            trust_env=False,
        )

    def client(self) -> httpx2.AsyncClient:
        """The running loop's pooled client (made on first use)."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            self._forget_closed_loops()
            client = self._factory()
            self._clients[loop] = client
        return client

    def _forget_closed_loops(self) -> None:
        # A pool refers back to its loop, so weak keys alone never let go of a finished loop (each
        # asyncio.run is one): drop those entries, letting the loop, the pool and its sockets be freed.
        for loop in [loop for loop in self._clients if loop.is_closed()]:
            del self._clients[loop]

    @property
    def pool_count(self) -> int:
        """Open pools (one per live event loop that has sent a request)."""
        return sum(1 for c in self._clients.values() if not c.is_closed)

    async def post(self, path: str, content: bytes, headers: Mapping[str, str], timeout: float) -> Response:
        """The whole answer; raises ``GatewayConnectionError`` when none came."""
        with translated_errors(self.base_url, timeout):
            async with asyncio.timeout(timeout):  # the whole answer, however slowly its bytes trickle
                return await self.client().post(path, content=content, headers=dict(headers), timeout=timeout)

    @asynccontextmanager
    async def stream(self, path: str, content: bytes, headers: Mapping[str, str],
                     timeout: float) -> AsyncIterator[Response]:
        """The answer with its body unread; closed on exit."""
        client = self.client()
        # No per-read timeout: the wait for headers is bounded here, and the body's pace by the reader
        # (``app.core.deadlines.StreamPace``), which knows when content started.
        request = client.build_request("POST", path, content=content, headers=dict(headers),
                                       timeout=httpx2.Timeout(timeout, read=None, connect=min(5.0, timeout)))
        with translated_errors(self.base_url, timeout):
            async with asyncio.timeout(timeout):
                response = await client.send(request, stream=True)
        try:
            yield response
        finally:
            await response.aclose()

    async def events(self, response: Response, timeout: float) -> AsyncGenerator[str, None]:
        """The ``data`` of each server-sent event; raises ValueError when the body is not an event stream."""
        with translated_errors(self.base_url, timeout):
            try:
                async for event in httpx2.EventSource(response, max_event_size=None):
                    yield event.data
            except httpx2.SSEError as exc:  # a TransportError, but the answer was wrong, not the connection
                raise ValueError(str(exc)) from None

    async def aclose(self) -> None:
        """Close the pool of the running loop (pools of finished loops are dropped as new ones start)."""
        loop = asyncio.get_running_loop()
        client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()


def parse_json_error(response: Response) -> tuple[str, Any]:
    """(message, body) of an error response; the body may not be JSON."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or f"HTTP {response.status_code}", response.text[:2000] or None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"]), body
        if isinstance(err, str):
            return err, body
        if body.get("message"):
            return str(body["message"]), body
    return str(body)[:300], body


__all__ = ["GatewayConnectionError", "GatewayTransport", "Response", "Transport", "parse_json_error",
           "translated_errors"]
