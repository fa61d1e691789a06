"""Workflows of the routing file as plain, hashable data (read by ``workflow_file``, run by ``app.workflows``)."""

from __future__ import annotations

from dataclasses import dataclass

FieldType = str | tuple[str, ...]
"""A field type: ``string``, ``number``, ``integer``, ``boolean``, ``list of strings``, or the values it may take."""
Fields = tuple[tuple[str, FieldType], ...]


@dataclass(frozen=True, slots=True)
class StepSpec:
    """A step as the file writes it."""

    name: str
    role: str
    prompt: str
    output: Fields | None
    uses: tuple[str, ...] | None
    on_error: str
    focus: str
    max_tokens: int
    reviewer: bool = False


@dataclass(frozen=True, slots=True)
class ParallelSpec:
    """Branches run at once."""

    branches: tuple[NodeSpec, ...]


@dataclass(frozen=True, slots=True)
class ReviewSpec:
    """A bounded review loop."""

    work: StepSpec
    reviewer: StepSpec
    rounds: int


@dataclass(frozen=True, slots=True)
class BranchSpec:
    """A branch on ``step.field`` of an earlier step's output."""

    on: str
    cases: tuple[tuple[str, tuple[NodeSpec, ...]], ...]
    default: tuple[NodeSpec, ...]


NodeSpec = StepSpec | ParallelSpec | ReviewSpec | BranchSpec


@dataclass(frozen=True, slots=True)
class WorkflowSpec:
    """A workflow of the routing file."""

    name: str
    description: str
    input: Fields
    steps: tuple[NodeSpec, ...]
    output: str | None
    budget_usd: float | None
    deadline_s: float | None
