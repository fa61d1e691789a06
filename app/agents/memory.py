"""What agents do with memory: recall into the prompt before a call, remember the exchange after it.

Everything here degrades instead of failing (through ``app.memory.guard``): a store or embedder
that errors or is too slow costs that call its memories, never the request.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from app.agents.agent import Agent
from app.agents.knowledge import record_insight, upsert_profile
from app.agents.results import BusinessInsight
from app.memory.guard import guarded
from app.memory.models import MemoryRecord
from app.memory.prompting import with_memories
from app.memory.store import AgentMemory

log = logging.getLogger("app.agents.memory")

MAX_QUERY_CHARS = 2000
"""Of a prompt, what is used to find memories (the embedder reads ~256 tokens anyway)."""
MAX_ASKED_CHARS = 800
MAX_ANSWER_CHARS = 1200


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


async def recall_into(memory: AgentMemory, agent: Agent, messages: Sequence[Mapping[str, Any]],
                      query: str) -> list[dict[str, Any]]:
    """``messages`` with the agent's most relevant memories appended to the system prompt."""
    if memory.recall_limit <= 0 or memory.recall_chars <= 0 or not query.strip():
        return [dict(m) for m in messages]
    nothing: list[MemoryRecord] = []
    found = await guarded(memory, "recall", lambda: memory.search(
        agent.id, query[:MAX_QUERY_CHARS], memory.recall_limit, memory.recall_min_score), nothing)
    log.debug("agent %s (%s): recalled %d memor%s%s", agent.name, agent.id, len(found),
              "y" if len(found) == 1 else "ies", " (memory unavailable)" if memory.degraded else "")
    return with_memories(messages, found, memory.recall_chars)


async def remember_exchange(memory: AgentMemory, agent: Agent, query: str, answer: str) -> None:
    """Remember a question and its answer (both clipped) as one of the agent's memories."""
    if not query.strip() or not answer.strip():
        return
    text = f"Asked: {_clip(query, MAX_ASKED_CHARS)}\nAnswered: {_clip(answer, MAX_ANSWER_CHARS)}"
    added = await guarded(memory, "remember", lambda: memory.add(agent.id, text, domain=agent.domain,
                                                                 role=agent.role, source="exchange"), None)
    log.debug("agent %s (%s): %s", agent.name, agent.id, "exchange not remembered (memory unavailable)"
              if added is None else "exchange merged into a memory" if added.merged else "exchange remembered")


async def remember_profile(memory: AgentMemory, agent: Agent) -> None:
    """Write the agent's profile into its domain's collection."""
    await guarded(memory, "profile", lambda: upsert_profile(memory, agent), None)


async def remember_insight(memory: AgentMemory, agent: Agent, query: str, insight: BusinessInsight) -> None:
    """Record a Sophia insight in ``sophia_knowledge``."""
    await guarded(memory, "insight", lambda: record_insight(memory, agent, query, insight), None)
