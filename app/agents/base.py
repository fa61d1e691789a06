"""The factory logic both Artemis and Sophia share: registering agents and running them on their role's chain.

A factory is handed its collaborators (the manager, agent memory, document grounding, the health
checker) by the composition root (``app.runtime``); the spec's ``get_portkey_*_factory()`` getters
build theirs from the process's runtime.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from app.agents.agent import MAX_NAME, Agent, agent_id
from app.agents.grounding import DocumentGrounding, ground_into
from app.agents.memory import recall_into, remember_exchange, remember_profile
from app.agents.results import ExecutionResult
from app.core.errors import InvalidRequestError
from app.core.manager import PortkeyManager
from app.core.pricing import usage_cost
from app.core.results import ChatCompletion
from app.core.validation import check_encodable
from app.health import HealthChecker
from app.memory.store import AgentMemory
from app.routing import Output, Role, RoutingPolicy

__all__ = ["Agent", "AgentFactoryBase", "agent_id", "check_max_tokens", "check_role", "check_text"]

def check_text(value: Any, what: str, max_len: int | None = None) -> str:
    """``value`` without outer spaces; raises ``InvalidRequestError`` naming ``what`` if empty or too long."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError(f"{what} must be a non-empty string")
    if max_len is not None and len(value) > max_len:
        raise InvalidRequestError(f"{what} is longer than {max_len} characters")
    check_encodable(value, what)
    return value.strip()


def check_role(role: Any, enum: type[Enum], policy: RoutingPolicy, domain: str) -> str:
    """The name of the role ``role`` names: a member of the spec's ``enum`` (the member, its value or its
    name, any case) or a role of ``domain`` from the routing file (its name, e.g. ``test_writer``).

    Raises ``InvalidRequestError`` listing the known roles otherwise.
    """
    if isinstance(role, enum):
        return str(role.value)
    if isinstance(role, str):
        wanted = role.strip().lower()
        for member in enum:
            if wanted in (member.value, member.name.lower()):
                return str(member.value)
        if f"{domain}/{wanted}" in policy.roles:
            return wanted
    spec_values = {m.value for m in enum}
    known = [m.name for m in enum] + [r.name for r in policy.roles_of(domain) if r.name not in spec_values]
    raise InvalidRequestError(f"unknown role {role!r}; expected one of {', '.join(known)}")


def check_max_tokens(max_tokens: Any) -> int:
    """``max_tokens`` if it is a positive integer; raises ``InvalidRequestError`` otherwise."""
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens <= 0:
        raise InvalidRequestError(f"max_tokens must be a positive integer, got {max_tokens!r}")
    return max_tokens


class AgentFactoryBase:
    """Registry of agents plus execution through the manager along the role's chain."""

    domain: str
    role_enum: type[Enum]
    default_output: Output | None = None
    """The answer shape of this domain's roles that do not give their own (Sophia's insight JSON)."""

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

    async def _create(self, name: Any, role: Any, focus: Any, focus_name: str) -> Agent:
        """Register an agent and, the first time, upsert its profile into its system's collection."""
        agent = self._register(name, role, focus, focus_name)
        memory = self.memory
        if memory is not None and agent.id not in self._profiled:
            self._profiled.add(agent.id)
            await remember_profile(memory, agent)
        return agent

    @property
    def policy(self) -> RoutingPolicy:
        """The routing policy in force (the manager's; it changes when the routing file is reloaded)."""
        return self.manager.policies.current

    def role(self, role: str) -> Role:
        """This domain's role ``role`` (e.g. ``code_reviewer``, or a role added by the routing file)."""
        return self.policy.role(f"{self.domain}/{role}")

    @property
    def roles(self) -> list[str]:
        """The names of this domain's roles: the spec's, then those the routing file adds."""
        return [r.name for r in self.policy.roles_of(self.domain)]

    async def health_check(self, force: bool = False) -> dict[str, Any]:
        """The spec's health check, judged against this factory's roles (``force`` skips the cache)."""
        chains = {r.key: tuple(r.strategy.targets) for r in self.policy.roles_of(self.domain)}
        return await self.health.report(chains, force=force)

    def system_prompt(self, role: str, name: str, focus: str) -> str:
        """The system prompt of a new agent of ``role``: the role's prompt with the agent's name and focus."""
        return self.role(role).prompt_for(name, focus, self.default_output)

    def _register(self, name: Any, role: Any, focus: Any, focus_name: str) -> Agent:
        name = check_text(name, "name", MAX_NAME)
        role_name = check_role(role, self.role_enum, self.policy, self.domain)
        focus = check_text(focus, focus_name, MAX_NAME)
        ident = agent_id(self.domain, name)
        existing = self._agents.get(ident)
        if existing is not None:
            if existing.role != role_name:
                raise InvalidRequestError(
                    f"agent {name!r} already exists as {existing.role.upper()}; pick another name "
                    f"or use role {existing.role.upper()}"
                )
            return existing
        agent = Agent(id=ident, name=name, domain=self.domain, role=role_name, focus=focus,
                      system_prompt=self.system_prompt(role_name, name, focus))
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
        """Every target a role's calls may go to (``provider/model``), in the order its strategy lists them."""
        return tuple(self.role(role).strategy.targets)

    def _check_agent(self, agent: Any) -> Agent:
        if not isinstance(agent, Agent) or agent.domain != self.domain:
            raise InvalidRequestError(f"agent must be an agent created by the {self.domain} factory")
        return agent

    async def run_step(self, name: str, role: str, focus: str, prompt: str, max_tokens: int,
                       **params: Any) -> tuple[ExecutionResult, list[str]]:
        """A workflow step as the agent ``name`` of ``role``: one call like ``_execute``'s (strategy,
        grounding, memory, cache), whose system prompt is the role's current one *without* the role's
        own answer shape, since the step's prompt asks for the shape it validates. Returns the result
        and its citations (a provider's web citations first, then the document chunks)."""
        agent = await self._create(name, role, focus, "focus")
        system = self.role(agent.role).prompt_for(agent.name, agent.focus, shaped=False)
        messages = [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
        result, completion = await self._execute(agent, messages, max_tokens, query=prompt, **params)
        web = [str(c) for c in (completion.model_extra or {}).get("citations") or []]
        return result, [*web, *result.citations]

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
        if self.grounding is not None and self.role(agent.role).grounded:
            messages, citations = await ground_into(self.grounding, messages, query)
        recall = None
        if memory is not None:
            async def recall(sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
                return await recall_into(memory, agent, sent, query)
        completion = await self.manager.acreate_completion(
            role=f"{self.domain}/{agent.role}", messages=messages, max_tokens=max_tokens,
            metadata={"domain": self.domain, "agent_id": agent.id, "role": agent.role},
            prepare_messages=recall, **params,
        )
        routing = completion.routing
        usage = routing.usage
        result = ExecutionResult(
            content=completion.content, provider=routing.provider, model=routing.model,
            fallback_used=routing.fallback_used, attempts=routing.attempts, latency_ms=routing.latency_ms,
            usage=usage,
            cost_usd=0.0 if routing.cached else usage_cost(routing.provider, routing.model, usage),  # a hit is free
            cached=routing.cached, trace_id=routing.trace_id, agent_id=agent.id, role=agent.role,
            citations=citations, variant=routing.variant, complexity=routing.complexity,
        )
        if memory is not None and not routing.cached:
            await remember_exchange(memory, agent, query, result.content)
        return result, completion
