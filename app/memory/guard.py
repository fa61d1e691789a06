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
    if memory.outage.paused:
        MEMORY_DEGRADED.labels(operation).inc()  # a failing store is not asked again for a while
        return default
    try:
        await asyncio.wait_for(memory.warm_up(), WARM_UP_TIMEOUT)
        result = await asyncio.wait_for(work(), memory.timeout)
    except Exception as exc:  # noqa: BLE001 - memory is optional, the request is not
        MEMORY_DEGRADED.labels(operation).inc()
        reason = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        memory.outage.failed(f"{operation}: {reason[:300]}")
        return default
    memory.outage.succeeded()
    return result
