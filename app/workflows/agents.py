"""How a workflow step reaches an agent: through the Artemis and Sophia factories, as a single call does
(grounding, memory recall and remembering, the role's strategy, the response cache, limits).

Each step has its own agent, named ``<workflow>.<step>`` (stable ids, so a repeated run finds its
cache entries and memories). A step runs as ``run_step`` of its domain's factory: the role's prompt
without the role's own answer shape (a Sophia role's insight JSON would contradict the step's schema),
Perplexity's web citations kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from app.agents.results import ExecutionResult
from app.artemis.portkey_unified_factory import ArtemisFactory
from app.routing import RoutingPolicy
from app.sophia.portkey_unified_factory import SophiaFactory
from app.workflows.definition import Step, Workflow


@dataclass(frozen=True)
class AgentAnswer:
    """One call's answer text, how it was served, and what it cites."""

    content: str
    execution: ExecutionResult
    citations: list[str] = field(default_factory=list)


class AgentCaller(Protocol):
    """What the runner calls for each step (the factories; tests pass scripted ones)."""

    @property
    def policy(self) -> RoutingPolicy:
        """The routing policy in force (its roles, and the routing file's workflows)."""
        ...

    def check(self, workflow: Workflow) -> None:
        """Raise ``InvalidRequestError`` when a step's role is unknown, before any call."""
        ...

    async def ask(self, agent: str, step: Step, prompt: str, trace_id: str) -> AgentAnswer:
        """Ask ``step``'s role, as the agent called ``agent``, with ``prompt``; raises the manager's errors."""
        ...


class FactoryCaller:
    """Steps as agent calls of the two factories."""

    def __init__(self, artemis: ArtemisFactory, sophia: SophiaFactory) -> None:
        self.artemis = artemis
        self.sophia = sophia

    @property
    def policy(self) -> RoutingPolicy:
        """The policy the factories' manager plans on."""
        return self.artemis.policy

    def check(self, workflow: Workflow) -> None:
        """Every step's role exists in the routing policy in force."""
        for step in workflow.all_steps():
            factory = self.artemis if step.domain == "artemis" else self.sophia
            factory.role(step.role.partition("/")[2])  # raises InvalidRequestError listing the domain's roles

    async def ask(self, agent: str, step: Step, prompt: str, trace_id: str) -> AgentAnswer:
        """One agent call on the run's trace id."""
        factory = self.artemis if step.domain == "artemis" else self.sophia
        result, citations = await factory.run_step(agent, step.role.partition("/")[2], step.focus, prompt,
                                                   step.max_tokens, trace_id=trace_id)
        return AgentAnswer(result.content, result, citations)
