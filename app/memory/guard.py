"""Memory degrades instead of failing: every agent-facing operation runs through ``guarded``.

A store or embedder that errors or is slower than ``memory.timeout`` costs that operation its
result (the default), never the caller's request: one warning per outage (``memory.outage``), a
count in ``sophia_memory_degraded_total``, and memory is skipped for ``RETRY_AFTER`` seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from app.memory.store import AgentMemory
from app.vectors.metrics import MEMORY_DEGRADED

T = TypeVar("T")

WARM_UP_TIMEOUT = 60.0
"""Seconds the first use may take to load the embedding model."""


async def guarded(memory: AgentMemory, operation: str, work: Callable[[], Awaitable[T]], default: T) -> T:
    """``work()`` within ``memory.timeout`` (the embedder's first load gets ``WARM_UP_TIMEOUT``), or
    ``default`` when anything fails."""

    async def bounded() -> T:
        # asyncio.timeout, never wait_for: on Python 3.11 wait_for swallows a cancellation that races
        # the work's completion, so a cancelled agent call (or a shutting-down service) would go on.
        async with asyncio.timeout(WARM_UP_TIMEOUT):
            await memory.warm_up()
        async with asyncio.timeout(memory.timeout):
            return await work()

    return await memory.outage.guard(operation, bounded, default, MEMORY_DEGRADED.labels(operation).inc)
