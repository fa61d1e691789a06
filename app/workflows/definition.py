"""What a workflow is: agent steps composed in sequence, in parallel, in a bounded review loop and in a
branch on a step's structured output. Plain data, checked when it is built; ``runner`` executes it.

    Workflow("triage", "...", input=Report, steps=(
        Step("classify", "artemis/code_reviewer", "Classify the report.", output=Kind),
        Parallel((Step("scan", ...), Step("audit", ...))),          # fan-out; the next step fans in
        Branch("classify.kind", {"security": (Step("fix", ...),)}, default=()),
        Review(Step("draft", ...), Step("tone", ..., output=Verdict), rounds=1),
    ))

A step sees the run's input and the outputs of the steps it ``uses`` (default: every step that comes
before it and does not run at the same time), each a pydantic model put into its prompt explicitly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.core.errors import InvalidRequestError

NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
ROLE = re.compile(r"^(artemis|sophia)/[a-z][a-z0-9_]{0,63}$")
OnError = Literal["fail", "skip"]


class Verdict(BaseModel):
    """What a reviewer answers in a review loop: approved, or comments for the next round."""

    approved: bool = Field(False, description="true only when the work needs no change")
    comments: list[str] = Field(default_factory=list, description="each a concrete change to make")


@dataclass(frozen=True)
class StepContext:
    """What a step's prompt is built from: the run's input and the earlier outputs it uses."""

    input: BaseModel
    outputs: Mapping[str, BaseModel]
    """The outputs of the steps this step uses that have one, by step name, in definition order."""
    missing: Mapping[str, str]
    """Steps it uses that have no output (skipped after a failure), with the reason."""
    citations: Mapping[str, list[str]]
    """The sources each used step's answer was grounded on or cited (web citations, documents)."""
    previous: BaseModel | None = None
    """In a review loop's later rounds: this step's previous output, sent back by the reviewer."""
    comments: tuple[str, ...] = ()
    """The reviewer's comments to address in this round."""


Prompt = str | Callable[[StepContext], str]
"""A template (``{input.<field>}`` filled in, then the input and used outputs appended as JSON) or a
function that writes the whole prompt from the context."""


@dataclass(frozen=True)
class Step:
    """One agent call: ``role`` (``domain/role``) answers ``prompt`` with JSON matching ``output``.

    ``on_error``: when the step fails after its whole provider chain (or answers invalid JSON twice),
    ``fail`` ends the run, ``skip`` goes on without its output. ``focus`` is the agent's specialty
    (Artemis) or business domain (Sophia).
    """

    name: str
    role: str
    prompt: Prompt
    output: type[BaseModel]
    uses: tuple[str, ...] | None = None
    on_error: OnError = "fail"
    focus: str = "general"
    max_tokens: int = 2000

    @property
    def domain(self) -> str:
        """``artemis`` or ``sophia``."""
        return self.role.partition("/")[0]


@dataclass(frozen=True)
class Parallel:
    """Branches run at once (fan-out); the steps after it see all their outputs (fan-in)."""

    branches: tuple[Node, ...]


@dataclass(frozen=True)
class Review:
    """``work`` answers, ``reviewer`` (whose output is a ``Verdict``) approves it or sends it back with
    comments, at most ``rounds`` times; the loop's output is the work's last version."""

    work: Step
    reviewer: Step
    rounds: int = 1


@dataclass(frozen=True)
class Branch:
    """Runs the case whose key equals the value of ``on`` (``step.field``) in that step's output
    (booleans as ``true``/``false``), else ``default``; a skipped step takes ``default``."""

    on: str
    cases: Mapping[str, tuple[Node, ...]]
    default: tuple[Node, ...] = ()

    @property
    def step(self) -> str:
        """The step whose output decides."""
        return self.on.partition(".")[0]

    @property
    def field(self) -> str:
        """The output field that decides."""
        return self.on.partition(".")[2]


Node = Step | Parallel | Review | Branch


@dataclass(frozen=True)
class Workflow:
    """A named composition of steps with its input model; ``output`` names the step whose output is the
    run's output (default: what the last node produced). ``budget_usd`` and ``deadline_s`` are the
    defaults of a run (a run may give its own)."""

    name: str
    description: str
    input: type[BaseModel]
    steps: tuple[Node, ...]
    output: str | None = None
    budget_usd: float | None = None
    deadline_s: float | None = None
    source: str = "python"
    """Where it was defined: ``built-in``, ``python`` or the routing file."""
    scope: Mapping[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    """Each step's used steps, resolved."""

    def __post_init__(self) -> None:
        if not NAME.match(self.name):
            raise InvalidRequestError(f"workflow name {self.name!r}: lower-case letters, digits and _")
        checker = _Checker(f"workflow {self.name}")
        checker.nodes(self.steps, ())
        if self.output is not None and self.output not in checker.steps:
            raise checker.fail(f"output names unknown step {self.output!r}")
        object.__setattr__(self, "scope", checker.scope)

    def all_steps(self) -> list[Step]:
        """Every step, in definition order (a review's work before its reviewer, every branch case)."""
        return steps_in(self.steps)

    def step(self, name: str) -> Step:
        """The step called ``name``."""
        return next(s for s in self.all_steps() if s.name == name)

    def outline(self) -> str:
        """The shape in one line: ``[scan | audit | performance] -> report``."""
        return " -> ".join(_outline(n) for n in self.steps)

    def describe(self) -> dict[str, Any]:
        """Name, description, source, the input's JSON Schema and the shape of the steps."""
        return {"name": self.name, "description": self.description, "source": self.source,
                "input": self.input.model_json_schema(), "steps": [_shape(n) for n in self.steps],
                "budget_usd": self.budget_usd, "deadline_s": self.deadline_s}


def steps_in(nodes: tuple[Node, ...]) -> list[Step]:
    """Every step of ``nodes``, in definition order."""
    found: list[Step] = []
    for node in nodes:
        if isinstance(node, Step):
            found.append(node)
        elif isinstance(node, Parallel):
            found.extend(steps_in(node.branches))
        elif isinstance(node, Review):
            found.extend((node.work, node.reviewer))
        else:
            for case in (*node.cases.values(), node.default):
                found.extend(steps_in(case))
    return found


def _outline(node: Node) -> str:
    if isinstance(node, Step):
        return node.name
    if isinstance(node, Parallel):
        return "[" + " | ".join(_outline(n) for n in node.branches) + "]"
    if isinstance(node, Review):
        return f"{node.work.name} <-> {node.reviewer.name} (x{node.rounds})"
    cases = "; ".join(f"{key}: {' -> '.join(_outline(n) for n in nodes) or '-'}" for key, nodes in
                      (*node.cases.items(), ("else", node.default)))
    return f"{node.on}? {{{cases}}}"


def _shape(node: Node) -> Any:
    if isinstance(node, Step):
        return {"step": node.name, "role": node.role, "on_error": node.on_error}
    if isinstance(node, Parallel):
        return {"parallel": [_shape(n) for n in node.branches]}
    if isinstance(node, Review):
        return {"review": {"work": _shape(node.work), "reviewer": _shape(node.reviewer), "rounds": node.rounds}}
    return {"branch": {"on": node.on, "cases": {k: [_shape(n) for n in v] for k, v in node.cases.items()},
                       "default": [_shape(n) for n in node.default]}}


class _Checker:
    """Walks a workflow's nodes in order, checking each and recording which steps each step uses."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.scope: dict[str, tuple[str, ...]] = {}
        self.steps: dict[str, Step] = {}

    def fail(self, message: str) -> InvalidRequestError:
        return InvalidRequestError(f"{self.where}: {message}")

    def nodes(self, nodes: tuple[Node, ...], before: tuple[str, ...]) -> tuple[str, ...]:
        """Check ``nodes``, which run after the steps ``before``; the steps before the next node."""
        for node in nodes:
            if isinstance(node, Step):
                self.step(node, before)
                before = (*before, node.name)
            elif isinstance(node, Parallel):
                if not node.branches:
                    raise self.fail("a parallel block needs at least one branch")
                before = self.alternatives([(branch,) for branch in node.branches], before)
            elif isinstance(node, Review):
                if node.rounds < 1:
                    raise self.fail(f"review of {node.work.name!r}: rounds must be at least 1")
                if not issubclass(node.reviewer.output, Verdict):
                    raise self.fail(f"step {node.reviewer.name!r}: a reviewer's output must be a Verdict "
                                    "(approved, comments) or a subclass of it")
                before = self.nodes((node.work, node.reviewer), before)
            else:
                self.decider(node, before)
                before = self.alternatives([*node.cases.values(), node.default], before)
        return before

    def alternatives(self, groups: list[tuple[Node, ...]], before: tuple[str, ...]) -> tuple[str, ...]:
        """Groups that run side by side (parallel branches, branch cases): each sees only ``before``."""
        after = before
        for group in groups:
            after = (*after, *self.nodes(group, before)[len(before):])
        return after

    def step(self, step: Step, before: tuple[str, ...]) -> None:
        here = f"step {step.name!r}"
        if not NAME.match(step.name):
            raise self.fail(f"{here}: a step name is lower-case letters, digits and _ (at most 48)")
        if step.name in self.steps:
            raise self.fail(f"two steps are called {step.name!r}")
        if not ROLE.match(step.role):
            raise self.fail(f"{here}: role {step.role!r} is not <artemis|sophia>/<role>")
        if not (isinstance(step.output, type) and issubclass(step.output, BaseModel)):
            raise self.fail(f"{here}: output must be a pydantic model class")
        if step.max_tokens <= 0:
            raise self.fail(f"{here}: max_tokens must be positive")
        if step.uses is not None:
            unknown = [u for u in step.uses if u not in before]
            if unknown:
                raise self.fail(f"{here} uses {', '.join(unknown)}, which does not run before it; steps before "
                                f"it: {', '.join(before) or 'none'}")
        self.scope[step.name] = step.uses if step.uses is not None else before
        self.steps[step.name] = step

    def decider(self, node: Branch, before: tuple[str, ...]) -> None:
        if node.step not in before:
            raise self.fail(f"branch on {node.on!r}: step {node.step!r} does not run before it")
        fields = list(self.steps[node.step].output.model_fields)
        if node.field not in fields:
            raise self.fail(f"branch on {node.on!r}: the output of {node.step!r} has no field {node.field!r}; "
                            f"fields: {', '.join(fields)}")
