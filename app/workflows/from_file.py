"""Runnable workflows from the routing file's ``workflows:`` section (``app.routing.workflow_file``).

Field types become pydantic models: ``string`` -> str, ``number`` -> float, ``integer`` -> int,
``boolean`` -> bool, ``list of strings`` -> list[str], a list of values -> one of them. A step without
``output`` answers in its role's ``output`` shape when the role has one (a field described as
"list ..." is a list of strings, "number ..." a number, "integer ..." an integer, "true or false" a
boolean, anything else a string), else ``{answer: string}``. A reviewer answers a ``Verdict``.
"""

from __future__ import annotations

import threading
from typing import Any, Literal

from pydantic import BaseModel, create_model

from app.routing import Output, RoutingPolicy
from app.routing.workflow_specs import (
    BranchSpec,
    Fields,
    FieldType,
    NodeSpec,
    ParallelSpec,
    ReviewSpec,
    StepSpec,
    WorkflowSpec,
)
from app.workflows.definition import Branch, Node, Parallel, Review, Step, Verdict, Workflow

_SIMPLE: dict[str, Any] = {"string": str, "number": float, "integer": int, "boolean": bool,
                           "list of strings": list[str]}
_cache: dict[str, dict[str, Workflow]] = {}
_lock = threading.Lock()


def _python_type(kind: FieldType) -> Any:
    if isinstance(kind, tuple):
        return Literal[kind]
    return _SIMPLE[kind]


def _camel(*names: str) -> str:
    return "".join(part.capitalize() for name in names for part in name.split("_"))


def model_of(name: str, fields: Fields, base: type[BaseModel] = BaseModel) -> type[BaseModel]:
    """A pydantic model with ``fields`` (each required), on ``base``'s fields."""
    own = {key: (_python_type(kind), ...) for key, kind in fields if key not in base.model_fields}
    return create_model(name, __base__=base, **own)  # type: ignore[call-overload]


def role_fields(output: Output) -> Fields:
    """A role's ``output`` (descriptions for the model) read as field types."""
    fields: list[tuple[str, FieldType]] = []
    for key, description in output.fields:
        text = description.strip().lower()
        kind = ("list of strings" if text.startswith("list") else "number" if text.startswith("number")
                else "integer" if text.startswith(("integer", "whole number"))
                else "boolean" if text.startswith(("true or false", "boolean")) else "string")
        fields.append((key, kind))
    return tuple(fields)


def _step(spec: StepSpec, workflow: str, policy: RoutingPolicy) -> Step:
    name = _camel(workflow, spec.name, "output")
    if spec.reviewer:
        output = model_of(name, spec.output or (), Verdict)
    elif spec.output is not None:
        output = model_of(name, spec.output)
    else:
        role_output = policy.roles[spec.role].output if spec.role in policy.roles else None
        output = model_of(name, role_fields(role_output) if role_output else (("answer", "string"),))
    return Step(spec.name, spec.role, spec.prompt, output, spec.uses,
                "skip" if spec.on_error == "skip" else "fail", spec.focus, spec.max_tokens)


def _nodes(specs: tuple[NodeSpec, ...], workflow: str, policy: RoutingPolicy) -> tuple[Node, ...]:
    nodes: list[Node] = []
    for spec in specs:
        if isinstance(spec, StepSpec):
            nodes.append(_step(spec, workflow, policy))
        elif isinstance(spec, ParallelSpec):
            nodes.append(Parallel(_nodes(spec.branches, workflow, policy)))
        elif isinstance(spec, ReviewSpec):
            nodes.append(Review(_step(spec.work, workflow, policy), _step(spec.reviewer, workflow, policy),
                                spec.rounds))
        else:
            assert isinstance(spec, BranchSpec)
            nodes.append(Branch(spec.on, {key: _nodes(case, workflow, policy) for key, case in spec.cases},
                                _nodes(spec.default, workflow, policy)))
    return tuple(nodes)


def compile_spec(spec: WorkflowSpec, policy: RoutingPolicy) -> Workflow:
    """The runnable workflow of one ``workflows:`` entry."""
    return Workflow(spec.name, spec.description, model_of(_camel(spec.name, "input"), spec.input),
                    _nodes(spec.steps, spec.name, policy), spec.output, spec.budget_usd, spec.deadline_s,
                    source=policy.source)


def compiled(policy: RoutingPolicy) -> dict[str, Workflow]:
    """The policy's file workflows, built once per policy version."""
    with _lock:
        found = _cache.get(policy.version)
        if found is None:
            found = {name: compile_spec(spec, policy) for name, spec in policy.workflows.items()}
            _cache.clear()  # one policy is in force at a time: keep only its workflows
            _cache[policy.version] = found
        return found
