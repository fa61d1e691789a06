"""Running the async core from synchronous code.

The sync API must work both from plain scripts and from inside a running event loop (a notebook,
or a sync call made by async code), where ``asyncio.run`` is not allowed. So sync calls run on one
background event-loop thread per process, which also keeps one connection pool for all sync callers.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")


class SyncBridge:
    """One background event-loop thread that runs coroutines for synchronous callers."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="sophia-sync-bridge", daemon=True)
                thread.start()
                self._loop = loop
            return self._loop

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the bridge's loop and wait for its result, from any thread.

        Raises RuntimeError when called from the bridge's own loop (that would deadlock).
        """
        loop = self._ensure_loop()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            coro.close()
            raise RuntimeError("a sync API was called from the sync bridge's own loop; use the async twin")
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    def iterate(self, agen: AsyncGenerator[T, None] | AsyncIterator[T]) -> Generator[T, None, None]:
        """Drive an async iterator from sync code, one item per step, closing it if abandoned."""
        try:
            while True:
                try:
                    yield self.run(_next(agen))
                except StopAsyncIteration:
                    return
        finally:
            aclose = getattr(agen, "aclose", None)
            if aclose is not None:
                self.run(aclose())


async def _next(agen: AsyncIterator[T]) -> T:
    return await anext(agen)


_shared = SyncBridge()


def shared_bridge() -> SyncBridge:
    """The process's one bridge: every manager's sync calls share its thread and loop."""
    return _shared
