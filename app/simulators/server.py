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
import logging
import socket
from typing import Any

import uvicorn
from uvicorn.server import ServerState

log = logging.getLogger(__name__)

_HTTP_IMPL = "httptools" if importlib.util.find_spec("httptools") else "h11"
_BACKLOG = 1024


class HttpListener:
    def __init__(self, app: Any, host: str, port: int = 0) -> None:
        self.host = host
        self.port = port
        self.config = uvicorn.Config(
            app, host=host, port=port, http=_HTTP_IMPL, ws="none", lifespan="off", log_config=None,
            log_level="warning", access_log=False, proxy_headers=False, server_header=False,
            date_header=False,
        )
        self.config.load()
        self.state = ServerState()
        self._server: asyncio.AbstractServer | None = None
        self._opening: asyncio.Task | None = None

    def _protocol(self) -> asyncio.Protocol:
        return self.config.http_protocol_class(config=self.config, server_state=self.state, app_state={})

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
        sock = self._bind()
        self._server = await asyncio.get_running_loop().create_server(self._protocol, sock=sock)

    @property
    def listening(self) -> bool:
        return self._server is not None or self._opening is not None

    def stop_listening(self) -> None:
        """Close the port now (new connects are refused) and hang up idle keep-alive connections."""
        if self._opening is not None:
            self._opening.cancel()
            self._opening = None
        if self._server is not None:
            self._server.close()
            self._server = None
        for conn in list(self.state.connections):
            conn.shutdown()

    def resume_listening(self) -> None:
        """Reopen the same port synchronously: connects queue in the backlog until served."""
        if self.listening:
            return
        sock = self._bind()
        loop = asyncio.get_running_loop()
        self._opening = loop.create_task(self._serve(sock))

    async def _serve(self, sock: socket.socket) -> None:
        try:
            self._server = await asyncio.get_running_loop().create_server(self._protocol, sock=sock)
        except BaseException:
            sock.close()
            raise
        finally:
            self._opening = None

    def transport_for(self, scope: dict) -> asyncio.Transport | None:
        client = scope.get("client")
        for conn in self.state.connections:
            if conn.client == client:
                return conn.transport
        return None

    async def stop(self, grace: float = 1.0) -> None:
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
