"""A scripted stand-in for the agents in workflow unit tests (the integration tests use the real ones).

Each step's answers are scripted in order; the last one repeats. An answer is ``"valid"`` (an instance of
the output schema the prompt asks for, made by the simulators' generator), a JSON text, ``"invalid"``,
``"hang"`` (waits until cancelled), or an exception to raise.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from app.agents.results import ExecutionResult
from app.core.errors import AllProvidersFailedError
from app.core.results import Attempt, Usage
from app.core.settings import load_settings
from app.routing import RoutingPolicy, load_policy
from app.simulators.answers import instance_of, requested_schema
from app.workflows import AgentAnswer, Step, Workflow

POLICY = load_policy(load_settings(_env_file=None))


def chain_failed(provider: str = "openai") -> AllProvidersFailedError:
    return AllProvidersFailedError([Attempt(provider=provider, model="m", status=503)], status=503, trace_id="t")


def execution(step: Step, content: str, trace_id: str, cost: float) -> ExecutionResult:
    return ExecutionResult(content=content, provider="openai", model="gpt-4o", fallback_used=False, attempts=[],
                           latency_ms=1.0, usage=Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15),
                           cost_usd=cost, trace_id=trace_id, agent_id="a", role=step.role.partition("/")[2])


@dataclass
class ScriptedAgents:
    """Answers each step from its script; records every prompt, and which calls were cancelled."""

    script: dict[str, list[Any]] = field(default_factory=dict)
    cost: float = 0.001
    citations: dict[str, list[str]] = field(default_factory=dict)
    prompts: dict[str, list[str]] = field(default_factory=dict)
    agents: list[str] = field(default_factory=list)
    trace_ids: set[str] = field(default_factory=set)
    cancelled: list[str] = field(default_factory=list)
    started: dict[str, asyncio.Event] = field(default_factory=dict)
    barrier: asyncio.Barrier | None = None
    """Steps listed in ``meet`` wait for each other here: they only pass when they run at once."""
    meet: tuple[str, ...] = ()
    policy: RoutingPolicy = POLICY

    def check(self, workflow: Workflow) -> None:
        for step in workflow.all_steps():
            self.policy.role(step.role)

    def began(self, step: str) -> asyncio.Event:
        return self.started.setdefault(step, asyncio.Event())

    async def ask(self, agent: str, step: Step, prompt: str, trace_id: str) -> AgentAnswer:
        self.agents.append(agent)
        self.trace_ids.add(trace_id)
        self.prompts.setdefault(step.name, []).append(prompt)
        self.began(step.name).set()
        answers = self.script.get(step.name, ["valid"])
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if self.barrier is not None and step.name in self.meet:
            async with asyncio.timeout(5):
                await self.barrier.wait()
        if isinstance(answer, BaseException):
            raise answer
        if answer == "hang":
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled.append(step.name)
                raise
        if answer == "valid":
            answer = json.dumps(instance_of(requested_schema(prompt), f"[{step.name}]"))
        elif answer == "invalid":
            answer = "Sure! Here is what I found: nothing worth JSON."
        elif not isinstance(answer, str):
            answer = json.dumps(answer)
        return AgentAnswer(answer, execution(step, answer, trace_id, self.cost), self.citations.get(step.name, []))
