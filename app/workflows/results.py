"""What a run returns, and the events it reports while it runs (CLI progress, SSE, the run record)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.core.results import Attempt, CacheStatus, Usage

StepStatus = Literal["completed", "skipped", "failed", "cancelled"]
RunStatus = Literal["completed", "partial", "failed", "cancelled"]
StopReason = Literal["budget", "deadline"]


class StepRouting(BaseModel):
    """How a step's answer was served (its last call, when invalid JSON made it ask twice)."""

    provider: str
    model: str
    fallback_used: bool
    cached: CacheStatus = None
    attempts: list[Attempt] = Field(default_factory=list)
    latency_ms: float
    trace_id: str
    calls: int = 1
    """LLM calls the step made: 2 when its first answer was not valid JSON for its output."""
    variant: str | None = None
    complexity: str | None = None


class StepResult(BaseModel):
    """One step of a run. ``name`` is the step's name, with ``#N`` for a review loop's Nth round."""

    name: str
    step: str
    """The step of the definition (``draft`` for ``draft#2``)."""
    role: str
    round: int = 1
    status: StepStatus
    output: Any = None
    """The step's output model (None unless completed)."""
    routing: StepRouting | None = None
    """None when no call answered (the chain failed, or the step was cancelled before an answer)."""
    cost_usd: float = 0.0
    usage: Usage = Field(default_factory=Usage)
    citations: list[str] = Field(default_factory=list)
    started_ms: float
    """Milliseconds from the run's start."""
    ended_ms: float
    error: str | None = None


class WorkflowResult(BaseModel):
    """A run: every step, the output, total cost and tokens, and whether it stopped early.

    ``partial`` is true when the run stopped before the end: ``stopped`` says whether its budget or its
    deadline cut it (``status`` ``partial``); a failed or cancelled run is partial too. ``output`` is the
    output step's model (None when that step did not complete).
    """

    workflow: str
    trace_id: str
    status: RunStatus
    partial: bool
    stopped: StopReason | None = None
    output: Any = None
    steps: list[StepResult] = Field(default_factory=list)
    cost_usd: float = 0.0
    usage: Usage = Field(default_factory=Usage)
    citations: list[str] = Field(default_factory=list)
    """Every source the steps' answers cited or were grounded on, in the order they came, once each."""
    decisions: list[str] = Field(default_factory=list)
    """Each branch taken: ``step.field = value -> case``."""
    budget_usd: float | None = None
    deadline_s: float | None = None
    started_at: datetime
    duration_ms: float = 0.0
    error: str | None = None
    """Why the run failed (the step and its error), or None."""

    def step(self, name: str) -> StepResult:
        """The step result called ``name`` (``draft#2`` for a later round); KeyError when it did not run."""
        for result in self.steps:
            if result.name == name:
                return result
        raise KeyError(name)


class RunStarted(BaseModel):
    """A run began."""

    type: Literal["run_started"] = "run_started"
    workflow: str
    trace_id: str
    budget_usd: float | None = None
    deadline_s: float | None = None


class StepStarted(BaseModel):
    """A step's agent was called."""

    type: Literal["step_started"] = "step_started"
    name: str
    role: str
    round: int = 1
    started_ms: float


class StepFinished(BaseModel):
    """A step ended (completed, skipped, failed or cancelled); the run's cost and tokens so far."""

    type: Literal["step_finished"] = "step_finished"
    step: StepResult
    cost_usd: float
    """The run's total so far."""
    tokens: int


class RunFinished(BaseModel):
    """A run ended, with its result (also when it failed, stopped early or was cancelled)."""

    type: Literal["run_finished"] = "run_finished"
    result: WorkflowResult


WorkflowEvent = RunStarted | StepStarted | StepFinished | RunFinished
