"""Agent profiles into ``artemis_tactical`` / ``sophia_knowledge``, and Sophia's insights into the latter."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from app.agents.agent import Agent
from app.agents.results import BusinessInsight
from app.memory.models import utcnow
from app.memory.store import AgentMemory
from app.vectors.base import Filter, Hit, Point
from app.vectors.collections import COLLECTIONS, DOMAIN_COLLECTIONS, SOPHIA_KNOWLEDGE

_INSIGHT_NAMESPACE = uuid.UUID("3a0d7f5e-2c4b-4e1a-8f6d-9b7c5a3e1f02")


def profile_text(agent: Agent) -> str:
    """What a profile is found by: short, because embedding cost grows with length (the full system
    prompt stays in the payload)."""
    return f"{agent.name}: {agent.domain} {agent.role.replace('_', ' ')} for {agent.focus.replace('_', ' ')}"


def _agent_fields(agent: Agent) -> dict[str, Any]:
    return {"agent_id": agent.id, "name": agent.name, "domain": agent.domain, "role": agent.role,
            "focus": agent.focus}


async def _upsert(memory: AgentMemory, collection: str, point_id: str, text: str,
                  payload: Mapping[str, Any]) -> None:
    vector = await memory.embed(text)
    await memory.ensure(collection, len(vector), COLLECTIONS[collection].keyword_fields)
    await memory.store.upsert(collection, [Point(point_id, vector, payload)])


async def upsert_profile(memory: AgentMemory, agent: Agent) -> None:
    """Store (or refresh) the agent's profile; its point id is the agent's id."""
    now = utcnow()
    payload = {"kind": "agent_profile", **_agent_fields(agent), "system_prompt": agent.system_prompt,
               "created_at": agent.created_at.isoformat(), "ts": now.timestamp()}
    await _upsert(memory, DOMAIN_COLLECTIONS[agent.domain], agent.id, profile_text(agent), payload)


async def record_insight(memory: AgentMemory, agent: Agent, query: str, insight: BusinessInsight) -> str:
    """Store a business insight in ``sophia_knowledge``; returns its point id."""
    point_id = str(uuid.uuid5(_INSIGHT_NAMESPACE, f"{agent.id}\x1f{query}\x1f{insight.summary}"))
    now = utcnow()
    payload: dict[str, Any] = {
        "kind": "business_insight", **_agent_fields(agent), "query": query, "summary": insight.summary,
        "key_points": insight.key_points, "recommendations": insight.recommendations,
        "citations": insight.citations, "provider": insight.execution.provider,
        "trace_id": insight.execution.trace_id, "created_at": now.isoformat(), "ts": now.timestamp(),
    }
    if insight.confidence is not None:
        payload["confidence"] = insight.confidence
    await _upsert(memory, SOPHIA_KNOWLEDGE.name, point_id, f"{query}\n{insight.summary}", payload)
    return point_id


async def search_knowledge(memory: AgentMemory, collection: str, query: str, limit: int = 5,
                           where: Filter | None = None) -> list[Hit]:
    """Semantic search over one of the collections, e.g. profiles of security auditors."""
    vector = await memory.embed(query)
    await memory.ensure(collection, len(vector), COLLECTIONS[collection].keyword_fields)
    return await memory.store.search(collection, vector, limit, where)
