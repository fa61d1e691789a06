"""``run_workflow``: the Python API of multi-agent workflows (the CLI and the service call it too)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from app.artemis.portkey_unified_factory import ArtemisFactory, get_portkey_artemis_factory
from app.core.errors import InvalidRequestError
from app.core.manager import new_trace_id
from app.core.validation import check_encodable
from app.routing import RoutingPolicy
from app.sophia.portkey_unified_factory import SophiaFactory, get_portkey_sophia_factory
from app.workflows.agents import AgentCaller, FactoryCaller
from app.workflows.catalog import find_workflow
from app.workflows.definition import Workflow
from app.workflows.results import WorkflowEvent, WorkflowResult
from app.workflows.runner import WorkflowRun

MAX_TRACE_ID = 64


def main_field(model: type[BaseModel]) -> str | None:
    """The input field a bare text goes into: the first required string field, if any."""
    for name, info in model.model_fields.items():
        if info.is_required() and info.annotation is str:
            return name
    return None


def coerce_input(workflow: Workflow, value: Any) -> BaseModel:
    """``value`` as the workflow's input model: the model itself, a mapping, or a text for its main field.

    Raises ``InvalidRequestError`` naming the fields that are wrong.
    """
    model = workflow.input
    if isinstance(value, model):
        return value
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, str):
        field = main_field(model)
        if field is None:
            raise InvalidRequestError(f"workflow {workflow.name!r} takes a JSON object as input, with the fields "
                                      f"{', '.join(model.model_fields)}")
        value = {field: value}
    if not isinstance(value, Mapping):
        raise InvalidRequestError(f"the input of workflow {workflow.name!r} must be an object (JSON), got "
                                  f"{type(value).__name__}")
    try:
        return model.model_validate(dict(value))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}"
                             for e in exc.errors(include_url=False)[:5])
        raise InvalidRequestError(f"the input of workflow {workflow.name!r} is not valid: {problems}") from None


def _check_limits(budget_usd: Any, deadline_s: Any) -> None:
    for name, value, low_ok in (("budget_usd", budget_usd, True), ("deadline_s", deadline_s, False)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or value < 0 or (value == 0 and not low_ok):
            raise InvalidRequestError(f"{name} must be a {'non-negative' if low_ok else 'positive'} number, "
                                      f"got {value!r}")


def _check_trace_id(trace_id: str | None) -> str:
    if trace_id is None:
        return new_trace_id()
    if not isinstance(trace_id, str) or not trace_id.strip() or len(trace_id) > MAX_TRACE_ID:
        raise InvalidRequestError(f"trace_id must be a non-empty string of at most {MAX_TRACE_ID} characters")
    check_encodable(trace_id, "trace_id")
    return trace_id.strip()


def resolve(workflow: str | Workflow, policy: RoutingPolicy) -> Workflow:
    """A workflow given by name (built-in, routing file, registered) or as a definition."""
    if isinstance(workflow, Workflow):
        return workflow
    if not isinstance(workflow, str):
        raise InvalidRequestError("workflow must be a name or a Workflow")
    return find_workflow(workflow, policy)


async def run_workflow(
    workflow: str | Workflow,
    input: Any,
    *,
    budget_usd: float | None = None,
    deadline_s: float | None = None,
    trace_id: str | None = None,
    on_event: Callable[[WorkflowEvent], None] | None = None,
    artemis: ArtemisFactory | None = None,
    sophia: SophiaFactory | None = None,
    caller: AgentCaller | None = None,
) -> WorkflowResult:
    """Run a workflow and return its result: every step (name, output, routing), the output, the total
    cost and tokens, whether it stopped early (``partial``) and the trace id every LLM call carried.

    ``workflow`` is a name (``security_review``, ``market_brief``, one of the routing file's or one
    registered with ``register_workflow``) or a ``Workflow``; ``input`` its input model, a mapping, or
    a text for its main field. ``budget_usd`` and ``deadline_s`` cap the run (default: the
    definition's); ``on_event`` is told of every step as it starts and ends. The steps run on
    ``artemis`` and ``sophia`` (default: the process's factories).

    Raises ``InvalidRequestError`` for a bad name, input or limit (before any call) and
    ``WorkflowFailedError`` (with ``.result``) when a step that must not fail failed; cancelling the
    task that awaits it cancels every call in flight.
    """
    if caller is None:
        if (artemis is None) != (sophia is None):
            raise InvalidRequestError("give both artemis= and sophia= factories (on the same runtime), or neither")
        artemis = artemis if artemis is not None else get_portkey_artemis_factory()
        sophia = sophia if sophia is not None else get_portkey_sophia_factory()
        caller = FactoryCaller(artemis, sophia)
        policy = artemis.policy
    else:
        policy = caller.policy
    definition = resolve(workflow, policy)
    data = coerce_input(definition, input)
    _check_limits(budget_usd, deadline_s)
    caller.check(definition)
    run = WorkflowRun(definition, data, caller, trace_id=_check_trace_id(trace_id),
                      budget_usd=budget_usd if budget_usd is not None else definition.budget_usd,
                      deadline_s=deadline_s if deadline_s is not None else definition.deadline_s,
                      on_event=on_event)
    return await run.run()
