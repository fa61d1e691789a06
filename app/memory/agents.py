"""What agents do with memory: recall into the prompt before a call, remember the exchange after it.

Everything here degrades instead of failing: a store or embedder that errors or is slower than
``memory.timeout`` costs that call its memories (one warning per outage, a count in
``sophia_memory_degraded_total``), never the request. After a failure memory is skipped for
``RETRY_AFTER`` seconds, then tried again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from app.memory.knowledge import record_insight, upsert_profile
from app.memory.prompting import with_memories
from app.memory.store import AgentMemory
from app.vectors.metrics import MEMORY_DEGRADED

if TYPE_CHECKING:
    from app.agents.base import Agent
    from app.agents.results import BusinessInsight

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_QUERY_CHARS = 2000
"""Of a prompt, what is used to find memories (the embedder reads ~256 tokens anyway)."""
MAX_ASKED_CHARS = 800
MAX_ANSWER_CHARS = 1200
WARM_UP_TIMEOUT = 60.0
"""Seconds the first use may take to load the embedding model (well under a second when idle)."""
RETRY_AFTER = 30.0
"""Seconds memory is skipped after a failure, so a hanging store does not slow every call by the timeout."""


async def guarded(memory: AgentMemory, operation: str, work: Callable[[], Awaitable[T]], default: T) -> T:
    """``work()`` within ``memory.timeout`` (the embedder's first load gets ``WARM_UP_TIMEOUT``), or
    ``default`` when anything fails."""
    if memory.degraded and time.monotonic() < memory.retry_at:
        MEMORY_DEGRADED.labels(operation).inc()  # a failing store is not asked again for a while
        return default
    try:
        await asyncio.wait_for(memory.warm_up(), WARM_UP_TIMEOUT)
        result = await asyncio.wait_for(work(), memory.timeout)
    except Exception as exc:  # noqa: BLE001 - memory is optional, the request is not
        MEMORY_DEGRADED.labels(operation).inc()
        reason = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        memory.retry_at = time.monotonic() + RETRY_AFTER
        if not memory.degraded:
            memory.degraded = True
            log.warning("agent memory unavailable, continuing without it (%s: %s)", operation, reason[:300])
        else:
            log.debug("agent memory still unavailable (%s: %s)", operation, reason[:300])
        return default
    if memory.degraded:
        memory.degraded = False
        log.info("agent memory available again")
    return result


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


async def recall_into(memory: AgentMemory, agent: Agent, messages: Sequence[Mapping[str, Any]],
                      query: str) -> list[dict[str, Any]]:
    """``messages`` with the agent's most relevant memories appended to the system prompt."""
    if memory.recall_limit <= 0 or memory.recall_chars <= 0 or not query.strip():
        return [dict(m) for m in messages]
    found = await guarded(memory, "recall", lambda: memory.search(
        agent.id, query[:MAX_QUERY_CHARS], memory.recall_limit, memory.recall_min_score), [])
    return with_memories(messages, found, memory.recall_chars)


async def remember_exchange(memory: AgentMemory, agent: Agent, query: str, answer: str) -> None:
    if not query.strip() or not answer.strip():
        return
    text = f"Asked: {_clip(query, MAX_ASKED_CHARS)}\nAnswered: {_clip(answer, MAX_ANSWER_CHARS)}"
    await guarded(memory, "remember", lambda: memory.add(agent.id, text, domain=agent.domain, role=agent.role,
                                                         source="exchange"), None)


async def remember_profile(memory: AgentMemory, agent: Agent) -> None:
    await guarded(memory, "profile", lambda: upsert_profile(memory, agent), None)


async def remember_insight(memory: AgentMemory, agent: Agent, query: str, insight: BusinessInsight) -> None:
    await guarded(memory, "insight", lambda: record_insight(memory, agent, query, insight), None)
