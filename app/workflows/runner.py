"""Running a workflow: structured concurrency (``asyncio.TaskGroup``), one trace id, a budget and a deadline.

- Every LLM call of a run carries the run's trace id (analytics groups them; the dashboard shows them
  as the run's timeline).
- **Budget** (USD): checked before each step starts; once the run has spent it, no step starts and the
  run returns what it has (``partial``, ``stopped="budget"``). Steps already running finish: their
  calls are paid for anyway, so the run can exceed its budget by what was in flight.
- **Deadline** (seconds, the whole run): when it passes, the steps in flight are cancelled (their calls
  end at the provider too) and the run returns what it has (``stopped="deadline"``).
- A step that fails after its chain (or answers invalid JSON twice) is skipped or fails the run, as
  its definition says; a failure cancels the steps running beside it and raises ``WorkflowFailedError``
  carrying the run so far.
- A caller that cancels the run cancels every step in flight: the run reports ``cancelled`` to its
  event observers and the cancellation propagates.

Deadlines use ``asyncio.timeout``, never ``wait_for`` (on Python 3.11 ``wait_for`` can swallow a
cancellation that races completion).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from app.core.errors import SophiaError, StructuredOutputError, WorkflowFailedError
from app.core.observation import Observers
from app.core.redaction import describe_error
from app.core.results import Usage
from app.workflows.agents import AgentAnswer, AgentCaller
from app.workflows.definition import (
    Branch,
    Node,
    Parallel,
    Review,
    Step,
    StepContext,
    Verdict,
    Workflow,
    steps_in,
)
from app.workflows.outputs import InvalidOutput, parse_output, retry_request, schema_request
from app.workflows.prompts import build_prompt
from app.workflows.results import (
    RunFinished,
    RunStarted,
    RunStatus,
    StepFinished,
    StepResult,
    StepRouting,
    StepStarted,
    StepStatus,
    StopReason,
    WorkflowEvent,
    WorkflowResult,
)


class _StepFailed(Exception):
    """A step with ``on_error: fail`` failed: ends the run (and cancels the steps beside it)."""

    def __init__(self, name: str, cause: SophiaError) -> None:
        super().__init__(name)
        self.name = name
        self.cause = cause


@dataclass
class _Calls:
    """What one step's calls added up to."""

    count: int = 0
    cost: float = 0.0
    usage: list[int] = field(default_factory=lambda: [0, 0, 0])
    last: AgentAnswer | None = None
    citations: list[str] = field(default_factory=list)

    def add(self, answer: AgentAnswer, run_usage: list[int]) -> float:
        """Count one answer (its tokens also into ``run_usage``); its cost (0 for a cache hit or an
        unpriced model)."""
        execution = answer.execution
        self.count += 1
        self.last = answer
        cost = execution.cost_usd or 0.0
        self.cost += cost
        usage = execution.usage
        for i, n in enumerate((usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)):
            self.usage[i] += n
            run_usage[i] += n
        self.citations.extend(c for c in answer.citations if c not in self.citations)
        return cost

    def routing(self) -> StepRouting | None:
        if self.last is None:
            return None
        e = self.last.execution
        return StepRouting(provider=e.provider, model=e.model, fallback_used=e.fallback_used, cached=e.cached,
                           attempts=e.attempts, latency_ms=e.latency_ms, trace_id=e.trace_id, calls=self.count,
                           variant=e.variant, complexity=e.complexity)


class WorkflowRun:
    """One run of ``workflow`` on ``data``; ``await run.run()`` returns its result."""

    def __init__(self, workflow: Workflow, data: BaseModel, caller: AgentCaller, *, trace_id: str,
                 budget_usd: float | None, deadline_s: float | None,
                 on_event: Callable[[WorkflowEvent], None] | None = None) -> None:
        self.workflow = workflow
        self.data = data
        self.caller = caller
        self.trace_id = trace_id
        self.budget = budget_usd
        self.deadline = deadline_s
        self.events: Observers[WorkflowEvent] = Observers()
        if on_event is not None:
            self.events.add(on_event)
        self.roles = {s.name: s.role for s in workflow.all_steps()}
        self.records: list[StepResult | None] = []
        """Each step's result, in the order the steps started (None while one runs)."""
        self.outputs: dict[str, BaseModel] = {}
        self.missing: dict[str, str] = {}
        self.citations: dict[str, list[str]] = {}
        self.decisions: list[str] = []
        self.cost = 0.0
        self.usage = [0, 0, 0]
        self.stopped: StopReason | None = None
        self._clock = time.perf_counter()
        self.started_at = datetime.now(UTC)

    def elapsed_ms(self) -> float:
        """Milliseconds since the run started."""
        return round((time.perf_counter() - self._clock) * 1000, 1)

    # ----- the run ----------------------------------------------------------------------------------

    async def run(self) -> WorkflowResult:
        """Run every node; the result (``partial`` when the budget or the deadline cut it short).

        Raises ``WorkflowFailedError`` when a step that must not fail failed; re-raises the caller's
        cancellation after reporting it.
        """
        self.events.notify(RunStarted(workflow=self.workflow.name, trace_id=self.trace_id,
                                      budget_usd=self.budget, deadline_s=self.deadline))
        value: Any = None
        try:
            async with asyncio.timeout(self.deadline) as window:
                value = await self._nodes(self.workflow.steps)
        except TimeoutError:
            if not window.expired():
                raise
            self.stopped = "deadline"
        except asyncio.CancelledError:
            self._close("cancelled", error="the caller cancelled the run")
            raise
        except _StepFailed as failure:
            self._fail(failure)
        except BaseExceptionGroup as group:  # a failure inside a parallel block (TaskGroup)
            failures, others = group.split(_StepFailed)
            if others is not None or failures is None:
                raise
            self._fail(_first(failures))
        output = self.outputs.get(self.workflow.output) if self.workflow.output else value
        return self._close("partial" if self.stopped else "completed", output)

    def _fail(self, failure: _StepFailed) -> None:
        reason = describe_error(failure.cause)
        result = self._close("failed", error=f"step {failure.name!r} failed: {reason}")
        raise WorkflowFailedError(self.workflow.name, failure.name, reason, result) from failure.cause

    def _close(self, status: RunStatus, output: Any = None, error: str | None = None) -> WorkflowResult:
        """The result, reported to the observers as ``run_finished``."""
        records = [r for r in self.records if r is not None]
        citations: list[str] = []
        for record in records:
            citations.extend(c for c in record.citations if c not in citations)
        result = WorkflowResult(
            workflow=self.workflow.name, trace_id=self.trace_id, status=status, partial=status != "completed",
            stopped=self.stopped, output=output if status in ("completed", "partial") else None,
            steps=records, cost_usd=round(self.cost, 8), usage=_usage(self.usage),
            citations=citations, decisions=list(self.decisions), budget_usd=self.budget, deadline_s=self.deadline,
            started_at=self.started_at, duration_ms=self.elapsed_ms(), error=error,
        )
        self.events.notify(RunFinished(result=result))
        return result

    # ----- nodes ------------------------------------------------------------------------------------

    async def _nodes(self, nodes: tuple[Node, ...]) -> Any:
        """Run ``nodes`` in order; what the last one produced."""
        value: Any = None
        for node in nodes:
            if self.stopped:
                break
            value = await self._node(node)
        return value

    async def _node(self, node: Node) -> Any:
        """Run one node: a step's output, a parallel block's outputs by step, a review's last version,
        or what the branch taken produced."""
        if isinstance(node, Step):
            return await self._step(node)
        if isinstance(node, Parallel):
            async with asyncio.TaskGroup() as group:
                for branch in node.branches:
                    group.create_task(self._node(branch))
            return {s.name: self.outputs[s.name] for s in steps_in(node.branches) if s.name in self.outputs}
        if isinstance(node, Review):
            return await self._review(node)
        return await self._branch(node)

    async def _review(self, node: Review) -> BaseModel | None:
        """Work, then up to ``rounds`` reviews, each rejected one answered by a revision."""
        draft = await self._step(node.work)
        for round_ in range(1, node.rounds + 1):
            if draft is None:
                break
            verdict = await self._step(node.reviewer, round_=round_)
            if not isinstance(verdict, Verdict) or verdict.approved:
                break  # approved, or no verdict (skipped, stopped): the draft stands
            revised = await self._step(node.work, round_=round_ + 1, previous=draft, comments=tuple(verdict.comments))
            if revised is None:
                break
            draft = revised
        return draft

    async def _branch(self, node: Branch) -> Any:
        """The case the deciding step's output selects (``default`` when it has none)."""
        decider = self.outputs.get(node.step)
        value = None if decider is None else getattr(decider, node.field, None)
        key = None if value is None else (str(value).lower() if isinstance(value, bool) else str(value))
        chosen = node.cases.get(key, node.default) if key is not None else node.default
        label = key if key is not None and key in node.cases else "default"
        self.decisions.append(f"{node.on} = {key if key is not None else '(no output)'} -> {label}")
        return await self._nodes(chosen)

    # ----- steps ------------------------------------------------------------------------------------

    def _context(self, step: Step, previous: BaseModel | None, comments: tuple[str, ...]) -> StepContext:
        """What ``step`` sees: the input, the outputs of the steps it uses (or why they have none)."""
        used = self.workflow.scope[step.name]
        outputs = {n: self.outputs[n] for n in used if n in self.outputs}
        return StepContext(
            input=self.data, outputs=outputs,
            missing={n: self.missing[n] for n in used if n in self.missing and n not in outputs},
            citations={n: self.citations[n] for n in outputs if self.citations.get(n)},
            previous=previous, comments=comments,
        )

    async def _step(self, step: Step, *, round_: int = 1, previous: BaseModel | None = None,
                   comments: tuple[str, ...] = ()) -> BaseModel | None:
        """Run one step (unless the run has stopped); its output, or None when it did not complete."""
        if self.stopped:
            return None
        if self.budget is not None and self.cost >= self.budget:
            self.stopped = "budget"
            return None
        name = step.name if round_ == 1 else f"{step.name}#{round_}"
        started = self.elapsed_ms()
        slot = len(self.records)  # results in the order steps started (parallel ones: as defined)
        self.records.append(None)
        self.events.notify(StepStarted(name=name, role=step.role, round=round_, started_ms=started))
        calls = _Calls()
        try:
            prompt = build_prompt(step, self._context(step, previous, comments), self.roles)
            output = await self._structured(step, name, f"{prompt}\n\n{schema_request(step.output)}", calls)
        except asyncio.CancelledError:
            self._record(slot, step, name, round_, started, calls, "cancelled", error="cancelled")
            raise
        except SophiaError as exc:
            reason = describe_error(exc)
            self._record(slot, step, name, round_, started, calls,
                         "failed" if step.on_error == "fail" else "skipped", error=reason)
            if step.on_error == "fail":
                raise _StepFailed(name, exc) from exc
            if step.name not in self.outputs:
                self.missing[step.name] = f"skipped after {reason}"
            return None
        self.outputs[step.name] = output
        self.citations[step.name] = calls.citations
        self._record(slot, step, name, round_, started, calls, "completed", output=output)
        return output

    async def _structured(self, step: Step, name: str, prompt: str, calls: _Calls) -> BaseModel:
        """Ask for JSON matching the step's output; once more with the problem quoted if it did not."""
        answer = await self._ask(step, prompt, calls)
        try:
            return parse_output(step.output, answer.content)
        except InvalidOutput as problem:
            answer = await self._ask(step, f"{prompt}\n\n{retry_request(problem)}", calls)
        try:
            return parse_output(step.output, answer.content)
        except InvalidOutput as problem:
            raise StructuredOutputError(name, step.role, str(problem)) from None

    async def _ask(self, step: Step, prompt: str, calls: _Calls) -> AgentAnswer:
        answer = await self.caller.ask(f"{self.workflow.name}.{step.name}", step, prompt, self.trace_id)
        self.cost += calls.add(answer, self.usage)
        return answer

    def _record(self, slot: int, step: Step, name: str, round_: int, started: float, calls: _Calls,
                status: StepStatus, *, output: BaseModel | None = None, error: str | None = None) -> None:
        """Keep the step's result and report it (with the run's cost and tokens so far)."""
        result = StepResult(
            name=name, step=step.name, role=step.role, round=round_, status=status, output=output,
            routing=calls.routing(), cost_usd=round(calls.cost, 8),
            usage=_usage(calls.usage),
            citations=calls.citations, started_ms=started, ended_ms=self.elapsed_ms(), error=error,
        )
        self.records[slot] = result
        self.events.notify(StepFinished(step=result, cost_usd=round(self.cost, 8), tokens=self.usage[2]))


def _first(group: BaseExceptionGroup[_StepFailed]) -> _StepFailed:
    """The first step failure in a (possibly nested) exception group."""
    first = group.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first


def _usage(counts: list[int]) -> Usage:
    return Usage(prompt_tokens=counts[0], completion_tokens=counts[1], total_tokens=counts[2])
