"""The one HTTP path to the Portkey gateway: pooled async clients, one per event loop.

An ``httpx2.AsyncClient`` is bound to the event loop it first ran on, and the spec's examples each
call ``asyncio.run`` (a new loop every time), so the transport keeps one pooled client per live
loop: a service or a benchmark (one loop) gets exactly one pool. Lower-library errors are
translated here, at one boundary, into the routing layer's exceptions.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx2

from app.core.errors import GatewayUnavailableError, RequestTimeoutError

ClientFactory = Callable[[], httpx2.AsyncClient]


class GatewayTransport:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        headers: dict[str, str] | None = None,
        max_connections: int = 256,
        client_factory: ClientFactory | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._headers = headers or {}
        # Idle connections are dropped before the gateway's (Node's) 5 s keep-alive timeout closes them,
        # so a request is never sent on a socket the server is closing (a spurious ReadError).
        self._limits = httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections,
                                    keepalive_expiry=4.0)
        self._factory = client_factory or self._default_client
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx2.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )

    def _default_client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            base_url=self.base_url,
            headers=self._headers,
            timeout=httpx2.Timeout(self._timeout, connect=5.0),
            limits=self._limits,
            trust_env=False,
        )

    def client(self) -> httpx2.AsyncClient:
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
        return sum(1 for c in self._clients.values() if not c.is_closed)

    async def post(self, path: str, content: bytes, headers: dict[str, str], timeout: float) -> httpx2.Response:
        try:
            return await self.client().post(path, content=content, headers=headers, timeout=timeout)
        except httpx2.TimeoutException as exc:
            raise self._timeout_error(exc, timeout) from None
        except httpx2.TransportError as exc:
            raise GatewayUnavailableError(self.base_url, type(exc).__name__) from None

    @asynccontextmanager
    async def stream(
        self, path: str, content: bytes, headers: dict[str, str], timeout: float
    ) -> AsyncIterator[httpx2.Response]:
        request = self.client().build_request("POST", path, content=content, headers=headers, timeout=timeout)
        try:
            response = await self.client().send(request, stream=True)
        except httpx2.TimeoutException as exc:
            raise self._timeout_error(exc, timeout) from None
        except httpx2.TransportError as exc:
            raise GatewayUnavailableError(self.base_url, type(exc).__name__) from None
        try:
            yield response
        finally:
            await response.aclose()

    def _timeout_error(self, exc: httpx2.TimeoutException, timeout: float) -> Exception:
        if isinstance(exc, httpx2.ConnectTimeout):
            return GatewayUnavailableError(self.base_url, "connect timeout")
        return RequestTimeoutError(f"the gateway did not answer within {timeout:.0f} s (REQUEST_TIMEOUT)")

    async def aclose(self) -> None:
        """Close the pool of the running loop (pools of finished loops are dropped as new ones start)."""
        loop = asyncio.get_running_loop()
        client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()


def parse_json_error(response: httpx2.Response) -> tuple[str, Any]:
    """(message, body) of an error response; the body may not be JSON."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or f"HTTP {response.status_code}", None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"]), body
        if isinstance(err, str):
            return err, body
        if body.get("message"):
            return str(body["message"]), body
    return str(body)[:300], body
