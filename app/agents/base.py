"""The factory logic both Artemis and Sophia share: registering agents and running them on their role's chain.

A factory is handed its collaborators (the manager, agent memory, document grounding, the health
checker) by the composition root (``app.runtime``); the spec's ``get_portkey_*_factory()`` getters
build theirs from the process's runtime.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from app.agents.agent import MAX_NAME, Agent, agent_id
from app.agents.grounding import DocumentGrounding, ground_into
from app.agents.memory import recall_into, remember_exchange, remember_profile
from app.agents.results import ExecutionResult
from app.core.errors import InvalidRequestError
from app.core.manager import PortkeyManager
from app.core.pricing import cost_usd
from app.core.results import ChatCompletion
from app.core.role_chains import chain_for, grounded, role_key
from app.core.validation import check_encodable
from app.health import HealthChecker
from app.memory.store import AgentMemory

__all__ = ["Agent", "AgentFactoryBase", "agent_id", "check_max_tokens", "check_role", "check_text"]

def check_text(value: Any, what: str, max_len: int | None = None) -> str:
    """``value`` without outer spaces; raises ``InvalidRequestError`` naming ``what`` if empty or too long."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError(f"{what} must be a non-empty string")
    if max_len is not None and len(value) > max_len:
        raise InvalidRequestError(f"{what} is longer than {max_len} characters")
    check_encodable(value, what)
    return value.strip()


def check_role(role: Any, enum: type[Enum]) -> Enum:
    """The member of ``enum`` that ``role`` names (a member, its value or its name, any case).

    Raises ``InvalidRequestError`` listing the roles otherwise.
    """
    if isinstance(role, enum):
        return role
    if isinstance(role, str):
        for member in enum:
            if role.strip().lower() in (member.value, member.name.lower()):
                return member
    raise InvalidRequestError(f"unknown role {role!r}; expected one of {', '.join(m.name for m in enum)}")


def check_max_tokens(max_tokens: Any) -> int:
    """``max_tokens`` if it is a positive integer; raises ``InvalidRequestError`` otherwise."""
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens <= 0:
        raise InvalidRequestError(f"max_tokens must be a positive integer, got {max_tokens!r}")
    return max_tokens


class AgentFactoryBase:
    """Registry of agents plus execution through the manager along the role's chain."""

    domain: str
    role_enum: type[Enum]

    def __init__(self, manager: PortkeyManager, *, memory: AgentMemory | None = None,
                 grounding: DocumentGrounding | None = None, health: HealthChecker | None = None) -> None:
        """``memory``: the agents' long-term memory (None: agents run without it); ``grounding``: the
        document store the grounded roles retrieve from (None: no role is grounded); ``health``: the
        checker shared with other factories on the same manager (None: one of this factory's own,
        probing providers only)."""
        self.manager = manager
        self.memory = memory
        self.grounding = grounding
        self.health = health if health is not None else HealthChecker(manager)
        self._profiled: set[str] = set()
        self._agents: dict[str, Agent] = {}
        self._lock = asyncio.Lock()

    async def _create(self, name: Any, role: Any, focus: Any, focus_name: str) -> Agent:
        """Register an agent and, the first time, upsert its profile into its system's collection."""
        agent = self._register(name, role, focus, focus_name)
        memory = self.memory
        if memory is not None and agent.id not in self._profiled:
            self._profiled.add(agent.id)
            await remember_profile(memory, agent)
        return agent

    async def health_check(self, force: bool = False) -> dict[str, Any]:
        """The spec's health check, judged against this factory's roles (``force`` skips the cache)."""
        chains = {role_key(self.domain, r.value): self.role_chain(r.value) for r in self.role_enum}
        return await self.health.report(chains, force=force)

    def system_prompt(self, role: str, name: str, focus: str) -> str:
        """The system prompt of a new agent of ``role``; each domain's factory writes its own."""
        raise NotImplementedError

    def _register(self, name: Any, role: Any, focus: Any, focus_name: str) -> Agent:
        name = check_text(name, "name", MAX_NAME)
        member = check_role(role, self.role_enum)
        focus = check_text(focus, focus_name, MAX_NAME)
        ident = agent_id(self.domain, name)
        existing = self._agents.get(ident)
        if existing is not None:
            if existing.role != member.value:
                raise InvalidRequestError(
                    f"agent {name!r} already exists as {existing.role.upper()}; pick another name "
                    f"or use role {existing.role.upper()}"
                )
            return existing
        agent = Agent(id=ident, name=name, domain=self.domain, role=member.value, focus=focus,
                      system_prompt=self.system_prompt(member.value, name, focus))
        self._agents[ident] = agent
        return agent

    def get_agent(self, name_or_id: str) -> Agent | None:
        """A registered agent, by name or by id; None when there is none."""
        return self._agents.get(name_or_id) or self._agents.get(agent_id(self.domain, name_or_id))

    @property
    def agents(self) -> list[Agent]:
        """The registered agents, in the order they were created."""
        return list(self._agents.values())

    def role_chain(self, role: str) -> tuple[str, ...]:
        """The providers a role's calls go to, in order (the ``ROLE_CHAINS`` setting can override it)."""
        overrides = getattr(self.manager.settings, "role_chains", None) or {}
        return chain_for(self.domain, role, overrides)

    def _check_agent(self, agent: Any) -> Agent:
        if not isinstance(agent, Agent) or agent.domain != self.domain:
            raise InvalidRequestError(f"agent must be an agent created by the {self.domain} factory")
        return agent

    async def _execute(self, agent: Agent, messages: Sequence[Mapping[str, Any]], max_tokens: int, *,
                       query: str | None = None, **params: Any) -> tuple[ExecutionResult, ChatCompletion]:
        """One call along the role's chain. ``query`` (default: the last user message) is what the
        call is about: a grounded role's agent gets the document chunks closest to it in its system
        prompt (and cites them in the result); with memory, its relevant memories follow, and the
        exchange (the query and the answer) is remembered. Documents and memory never fail the call.

        The response cache keys on the caller's request (the agent, its messages with their document
        chunks, the parameters), as the spec's ``domain:agent_id:request_hash`` says, not on the prompt
        memories changed: a repeated task is a hit, and a hit skips recall and remembering (nothing new
        was said).
        """
        memory = self.memory
        if query is None:
            query = next((str(m.get("content") or "") for m in reversed(messages)
                          if m.get("role") == "user"), "")
        citations: list[str] = []
        if self.grounding is not None and grounded(self.domain, agent.role):
            messages, citations = await ground_into(self.grounding, messages, query)
        recall = None
        if memory is not None:
            async def recall(sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
                return await recall_into(memory, agent, sent, query)
        first, *rest = self.role_chain(agent.role)
        completion = await self.manager.acreate_completion(
            provider=first, messages=messages, fallbacks=rest, max_tokens=max_tokens,
            metadata={"domain": self.domain, "agent_id": agent.id, "role": agent.role},
            prepare_messages=recall, **params,
        )
        routing = completion.routing
        usage = routing.usage
        result = ExecutionResult(
            content=completion.content, provider=routing.provider, model=routing.model,
            fallback_used=routing.fallback_used, attempts=routing.attempts, latency_ms=routing.latency_ms,
            usage=usage,
            cost_usd=0.0 if routing.cached else cost_usd(routing.provider, routing.model, usage.prompt_tokens,
                                                         usage.completion_tokens),  # a hit costs nothing
            cached=routing.cached, trace_id=routing.trace_id, agent_id=agent.id, role=agent.role,
            citations=citations,
        )
        if memory is not None and not routing.cached:
            await remember_exchange(memory, agent, query, result.content)
        return result, completion
