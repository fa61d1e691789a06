"""One TCP listener running an ASGI app through uvicorn's HTTP protocol.

uvicorn.Server is not used because faults need two things it does not offer: closing the
listening socket while keeping the process (mode "refuse") and reaching the transport of the
current request to kill it mid-response (modes "drop" and "cut_*"). We therefore drive
uvicorn's protocol class directly from our own asyncio server.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import socket
from typing import Any

import uvicorn
from uvicorn.server import ServerState

_HTTP_IMPL = "httptools" if importlib.util.find_spec("httptools") else "h11"
_BACKLOG = 1024


class HttpListener:
    """An ASGI app on one port whose listening socket can be closed and reopened (for faults)."""

    def __init__(self, app: Any, host: str, port: int = 0) -> None:
        self.host = host
        self.port = port
        self.config = uvicorn.Config(
            app,
            host=host,
            port=port,
            http=_HTTP_IMPL,
            ws="none",
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            proxy_headers=False,
            server_header=False,
            date_header=False,
        )
        self.config.load()
        self.state = ServerState()
        self._server: asyncio.AbstractServer | None = None
        self._opening: asyncio.Task | None = None
        self._pending_sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _protocol(self) -> asyncio.Protocol:
        protocol_class: Any = self.config.http_protocol_class  # uvicorn's classes take these keywords
        return protocol_class(config=self.config, server_state=self.state, app_state={})

    def _bind(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            # Reopening after "refuse" must win against TIME_WAIT leftovers of the old listener.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(_BACKLOG)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        return sock

    async def start(self) -> None:
        """Bind the port (0 picks a free one, then stored in ``port``) and start serving."""
        self._loop = asyncio.get_running_loop()
        sock = self._bind()
        self._server = await self._loop.create_server(self._protocol, sock=sock)

    @property
    def listening(self) -> bool:
        """True while the port accepts connections (or is being reopened)."""
        return self._server is not None or self._opening is not None

    def stop_listening(self) -> None:
        """Close the port now (new connects are refused) and hang up idle keep-alive connections."""
        if self._opening is not None:
            self._opening.cancel()
            self._opening = None
        if self._pending_sock is not None:
            # The reopen task never ran: nothing is registered with the loop for this socket yet.
            self._pending_sock.close()
            self._pending_sock = None
        if self._server is not None:
            self._server.close()
            self._server = None
        for conn in list(self.state.connections):
            cycle = getattr(conn, "cycle", None)
            if cycle is None or cycle.response_complete:
                # transport.close() only hangs up on the next loop turn; a client reusing its
                # pooled connection before then would get a read error instead of a refusal.
                _shutdown_now(conn.transport)
            conn.shutdown()

    def resume_listening(self) -> None:
        """Reopen the same port synchronously: connects queue in the backlog until served."""
        if self.listening:
            return
        # The loop captured at start(), not the running one: callers may be sync code on the
        # same thread (between pytest tests) while that loop is idle; the task waits for it.
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        self._pending_sock = self._bind()
        self._opening = loop.create_task(self._serve())

    async def _serve(self) -> None:
        sock, self._pending_sock = self._pending_sock, None
        assert sock is not None, "_serve runs once per _bind"
        # start_serving=False makes create_server return without suspending, so a concurrent
        # stop_listening() always finds either the pending socket or the server to close.
        server = await asyncio.get_running_loop().create_server(
            self._protocol, sock=sock, start_serving=False
        )
        self._server = server
        try:
            await server.start_serving()
        finally:
            self._opening = None

    def transport_for(self, scope: dict) -> asyncio.Transport | None:
        """The transport of the connection serving ``scope``; None if it has gone."""
        client = scope.get("client")
        for conn in self.state.connections:
            if getattr(conn, "client", None) == client:
                return getattr(conn, "transport", None)
        return None

    async def stop(self, grace: float = 1.0) -> None:
        """Close the port and the connections; requests in flight get ``grace`` seconds."""
        if self._opening is not None:
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await self._opening
        self.stop_listening()
        if self.state.tasks:
            _, pending = await asyncio.wait(list(self.state.tasks), timeout=grace)
            for task in pending:
                task.cancel()
        for conn in list(self.state.connections):
            conn.transport.close()
        # Let connection_lost callbacks run before the loop may be closed by the caller.
        await asyncio.sleep(0)


def _shutdown_now(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    try:
        # A dup of the fd: shutdown() acts on the shared socket, closing the dup does not.
        dup = socket.fromfd(sock.fileno(), sock.family, sock.type)
    except (OSError, ValueError):
        return
    with dup, contextlib.suppress(OSError):
        dup.shutdown(socket.SHUT_RDWR)
