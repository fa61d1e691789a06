"""A real HTTP receiver for alert webhooks: uvicorn on a loopback port, serving on the test's event loop."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.gateway.process import free_port


class WebhookReceiver:
    """Records every POST body with the time it arrived; ``status`` is what it answers."""

    def __init__(self, port: int | None = None, status: int = 200) -> None:
        self.port = port or free_port()
        self.status = status
        self.received: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()
        self.count = 0
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _hook(self, request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        self.count += 1
        await self.received.put((time.time(), body))
        return JSONResponse({"ok": True}, status_code=self.status)

    async def start(self) -> WebhookReceiver:
        app = Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                     lifespan="off"))
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                await self._task
            await asyncio.sleep(0.01)  # polling uvicorn's started flag
        return self

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task

    async def next(self, timeout: float = 20.0) -> tuple[float, dict[str, Any]]:
        return await asyncio.wait_for(self.received.get(), timeout)
