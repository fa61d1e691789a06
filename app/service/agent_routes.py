"""Agent endpoints over the two factories: create an agent, execute a task, generate an insight.

    POST /v1/agents                       {"domain": "artemis", "name": ..., "role": ..., "focus": ...}
    GET  /v1/agents
    POST /v1/agents/{agent_id}/execute    {"prompt": ..., "max_tokens": 2000}        (Artemis agents)
    POST /v1/agents/{agent_id}/insights   {"query": ..., "context": {...}}          (Sophia agents)
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from app.agents.base import Agent, AgentFactoryBase
from app.core.errors import InvalidRequestError
from app.service.deps import rate_limited
from app.service.state import ServiceState, StateDep

router = APIRouter(prefix="/v1/agents", dependencies=[Depends(rate_limited)])


class CreateAgent(BaseModel):
    """An agent to create: its domain, name, role (a role of that domain) and focus."""

    domain: Literal["artemis", "sophia"]
    name: str
    role: str
    focus: str = Field("general", description="the specialty (Artemis) or business domain (Sophia)")


class ExecuteTask(BaseModel):
    """A task for an Artemis agent; ``max_tokens`` bounds the answer's length."""

    prompt: str
    max_tokens: int = 2000


class InsightRequest(BaseModel):
    """A business question for a Sophia agent, with any context the agent should use (JSON object)."""

    query: str
    context: dict[str, Any] = Field(default_factory=dict)
    max_tokens: int = 2000


def _public(agent: Agent) -> dict[str, Any]:
    return agent.model_dump(mode="json", exclude={"system_prompt"})


def _find(state: ServiceState, agent_id: str) -> tuple[AgentFactoryBase, Agent]:
    for factory in (state.artemis, state.sophia):
        agent = factory.get_agent(agent_id)
        if agent is not None:
            return factory, agent
    raise HTTPException(404, f"no agent {agent_id!r}; create one with POST /v1/agents")


@router.post("")
async def create_agent(body: CreateAgent, state: StateDep) -> dict[str, Any]:
    """Create an Artemis or Sophia agent, or return the existing one of that name.

    Artemis roles: code_reviewer, security_auditor, performance_optimizer, vulnerability_scanner.
    Sophia roles: market_analyst, sales_strategist, customer_success, financial_analyst. Roles the
    routing file adds (``SOPHIA_ROUTING_FILE``) are used the same way, by name.
    The same domain and name always give the same agent id. Answers 400 for an unknown role or a
    name already used with another role.
    """
    if body.domain == "artemis":
        agent = await state.artemis.create_agent_with_portkey(body.name, body.role, body.focus)
    else:
        agent = await state.sophia.create_business_agent(body.name, body.role, body.focus)
    return _public(agent)


@router.get("")
async def list_agents(state: StateDep) -> dict[str, Any]:
    """List the agents created since the service started (system prompts left out)."""
    return {"object": "list", "data": [_public(a) for a in (*state.artemis.agents, *state.sophia.agents)]}


@router.post("/{agent_id}/execute")
async def execute(agent_id: str, body: ExecuteTask, state: StateDep) -> dict[str, Any]:
    """Run a task as an Artemis agent, along its role's provider chain.

    Answers the result with the provider and model that served, fallbacks, attempts, latency, tokens
    and cost. 404 for an unknown agent, 400 for a Sophia agent (use /insights).
    """
    factory, agent = _find(state, agent_id)
    if factory is not state.artemis:
        raise InvalidRequestError("execute runs Artemis (technical) agents; use /insights for Sophia agents")
    result = await state.artemis.execute_with_portkey(agent, body.prompt, body.max_tokens)
    return result.model_dump(mode="json")


@router.post("/{agent_id}/insights")
async def insight(agent_id: str, body: InsightRequest, state: StateDep) -> dict[str, Any]:
    """Ask a Sophia agent a business question; answers a structured insight.

    The insight has a summary, key points, recommendations, a confidence (0 to 1, or null) and
    citations, plus how the call was served. 404 for an unknown agent, 400 for an Artemis agent
    (use /execute).
    """
    factory, agent = _find(state, agent_id)
    if factory is not state.sophia:
        raise InvalidRequestError("insights come from Sophia (business) agents; use /execute for Artemis agents")
    result = await state.sophia.generate_business_insight(agent, body.query, body.context, body.max_tokens)
    return result.model_dump(mode="json")
