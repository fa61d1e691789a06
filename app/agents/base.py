"""Agents and the factory logic both Artemis and Sophia share.

An agent's id is derived from its factory's domain and its name (uuid5), so a restarted process
addresses the same agent, its cache entries and its memories.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from app.agents.pricing import cost_usd
from app.agents.results import ExecutionResult
from app.agents.roles import chain_for, role_key
from app.core.errors import InvalidRequestError
from app.core.results import ChatCompletion
from app.memory.agents import recall_into, remember_exchange, remember_profile
from app.memory.store import AgentMemory

_AGENT_NAMESPACE = uuid.UUID("6f1c3c52-3d0b-4c55-9a55-2a1f3f1d8e01")
MAX_NAME = 100


def agent_id(domain: str, name: str) -> str:
    return str(uuid.uuid5(_AGENT_NAMESPACE, f"{domain}:{name.strip().lower()}"))


class Agent(BaseModel):
    id: str
    name: str
    domain: str
    """``artemis`` or ``sophia``."""
    role: str
    """The role's value, e.g. ``security_auditor``."""
    focus: str
    """The specialty (Artemis) or business domain (Sophia)."""
    system_prompt: str
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @property
    def specialty(self) -> str:
        return self.focus

    @property
    def business_domain(self) -> str:
        return self.focus


def check_text(value: Any, what: str, max_len: int | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError(f"{what} must be a non-empty string")
    if max_len is not None and len(value) > max_len:
        raise InvalidRequestError(f"{what} is longer than {max_len} characters")
    return value.strip()


def check_role(role: Any, enum: type[Enum]) -> Enum:
    if isinstance(role, enum):
        return role
    if isinstance(role, str):
        for member in enum:
            if role.strip().lower() in (member.value, member.name.lower()):
                return member
    raise InvalidRequestError(f"unknown role {role!r}; expected one of {', '.join(m.name for m in enum)}")


def check_max_tokens(max_tokens: Any) -> int:
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens <= 0:
        raise InvalidRequestError(f"max_tokens must be a positive integer, got {max_tokens!r}")
    return max_tokens


class AgentFactoryBase:
    """Registry of agents plus execution through the manager along the role's chain."""

    domain: str
    role_enum: type[Enum]

    def __init__(self, manager: Any = None, memory: AgentMemory | None | Literal["settings"] = "settings") -> None:
        """``memory``: "settings" builds the process's memory from the manager's settings (none when
        MEMORY_ENABLED=false); pass an AgentMemory to use another, or None to run without memory."""
        self._manager = manager
        self._memory = memory
        self._profiled: set[str] = set()
        self._agents: dict[str, Agent] = {}
        self._lock = asyncio.Lock()

    @property
    def memory(self) -> AgentMemory | None:
        if self._memory == "settings":
            from app.memory.process import default_memory

            self._memory = default_memory(self.manager.settings)
        return self._memory

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
        from app.health import health_checker

        chains = {role_key(self.domain, r.value): self.role_chain(r.value) for r in self.role_enum}
        return await health_checker(self.manager).report(chains, force=force)

    @property
    def manager(self) -> Any:
        if self._manager is None:
            from app.core.portkey_config import get_portkey_manager

            self._manager = get_portkey_manager()
        return self._manager

    def system_prompt(self, role: str, name: str, focus: str) -> str:
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
        return self._agents.get(name_or_id) or self._agents.get(agent_id(self.domain, name_or_id))

    @property
    def agents(self) -> list[Agent]:
        return list(self._agents.values())

    def role_chain(self, role: str) -> tuple[str, ...]:
        overrides = getattr(self.manager.settings, "role_chains", None) or {}
        return chain_for(self.domain, role, overrides)

    def _check_agent(self, agent: Any) -> Agent:
        if not isinstance(agent, Agent) or agent.domain != self.domain:
            raise InvalidRequestError(f"agent must be an agent created by the {self.domain} factory")
        return agent

    async def _execute(self, agent: Agent, messages: Sequence[Mapping[str, Any]], max_tokens: int, *,
                       memory_query: str | None = None, **params: Any) -> tuple[ExecutionResult, ChatCompletion]:
        """One call along the role's chain; with memory, the agent's relevant memories join the system
        prompt and the exchange (``memory_query``, default the last user message, and the answer) is
        remembered. Memory never fails the call."""
        memory = self.memory
        if memory_query is None:
            memory_query = next((str(m.get("content") or "") for m in reversed(messages)
                                 if m.get("role") == "user"), "")
        if memory is not None:
            messages = await recall_into(memory, agent, messages, memory_query)
        first, *rest = self.role_chain(agent.role)
        completion = await self.manager.acreate_completion(
            provider=first, messages=messages, fallbacks=rest, max_tokens=max_tokens,
            metadata={"domain": self.domain, "agent_id": agent.id, "role": agent.role},
            **params,
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
        )
        if memory is not None:
            await remember_exchange(memory, agent, memory_query, result.content)
        return result, completion


F = TypeVar("F", bound=AgentFactoryBase)


class FactorySlot(Generic[F]):
    """Holds a process's factory of one kind, rebuilt when the process's manager is replaced."""

    def __init__(self, cls: type[F]) -> None:
        self._cls = cls
        self._factory: F | None = None
        self._lock = threading.Lock()

    def get(self) -> F:
        from app.core.portkey_config import get_portkey_manager

        manager = get_portkey_manager()
        with self._lock:
            if self._factory is None or self._factory._manager is not manager:
                self._factory = self._cls(manager)
            return self._factory
