"""Workflow endpoints: run one (plain, or SSE progress events then the result), list them, and the
dashboard's feed of recent runs and a run's timeline.

    POST /v1/workflows/{name}/runs   {"input": {...} or "text", "budget_usd": 0.05, "deadline_s": 120,
                                      "stream": false}                  (or Accept: text/event-stream)
    GET  /v1/workflows
    GET  /api/workflows/runs?minutes=1440
    GET  /api/workflows/runs/{trace_id}

A client that disconnects cancels its run: the steps in flight are cancelled and their calls end at
the providers. Every run is recorded in the analytics (its calls share its trace id).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel

from app.analytics import AnalyticsStore
from app.core.errors import InvalidRequestError, SophiaError, WorkflowFailedError
from app.service.deps import authenticated, rate_limited
from app.service.errors import describe, error_body
from app.service.state import ServiceState, StateDep
from app.workflows import (
    RunFinished,
    Workflow,
    WorkflowEvent,
    WorkflowResult,
    coerce_input,
    run_workflow,
    workflows,
)
from app.workflows.recording import recorder

log = logging.getLogger("app.service")

router = APIRouter(prefix="/v1/workflows", dependencies=[Depends(rate_limited)])
dashboard_router = APIRouter(prefix="/api/workflows", dependencies=[Depends(authenticated)])

RECENT_RUNS = 20


class RunRequest(BaseModel):
    """A run: the workflow's input (an object, or a text for its main field), its limits, and whether to
    stream progress events."""

    input: dict[str, Any] | str
    budget_usd: float | None = None
    deadline_s: float | None = None
    stream: bool = False


def _workflow(state: ServiceState, name: str) -> Workflow:
    found = workflows(state.manager.policies.current).get(name)
    if found is None:
        known = ", ".join(sorted(workflows(state.manager.policies.current)))
        raise HTTPException(404, f"no workflow {name!r}; workflows: {known}")
    return found


def _failed(exc: WorkflowFailedError) -> dict[str, Any]:
    return error_body(502, str(exc), code="workflow_failed", step=exc.step, result=exc.result.model_dump(mode="json"))


async def _cancel(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait until it has stopped (its calls cancelled), whatever it raised."""
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _disconnected(request: Request) -> None:
    """Return when the client has gone (the body was read already: the next message is the disconnect)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


@router.get("")
async def list_workflows(state: StateDep) -> dict[str, Any]:
    """The workflows this service runs: built-in, from the routing file, registered; each with the JSON
    Schema of its input and the shape of its steps."""
    return {"object": "list", "data": [w.describe() for w in workflows(state.manager.policies.current).values()]}


@router.post("/{name}/runs")
async def run(name: str, body: RunRequest, request: Request, state: StateDep) -> Any:
    """Run workflow ``name``. Plain: the result (200, also when the budget or the deadline cut it:
    ``partial``), or 502 ``workflow_failed`` with the run so far in ``error.result``. With ``stream``
    (or ``Accept: text/event-stream``): server-sent events ``run_started``, ``step_started``,
    ``step_finished`` (the run's cost so far) as they happen, then ``result`` (or ``error``).
    """
    workflow = _workflow(state, name)
    coerce_input(workflow, body.input)  # a 400 naming the fields before anything starts
    if body.stream or "text/event-stream" in request.headers.get("accept", ""):
        return StreamingResponse(_events(state, workflow, body), media_type="text/event-stream",
                                 headers={"cache-control": "no-cache"})
    task = asyncio.create_task(_start(state, workflow, body, recorder(state.analytics)))
    gone = asyncio.create_task(_disconnected(request))
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await _cancel(gone)
        if not task.done():  # the client left (or the server is stopping): stop the run's calls
            await _cancel(task)
    if task.cancelled():
        return Response(status_code=499)  # nginx's "client closed request": nobody is left to read it
    try:
        result = task.result()
    except WorkflowFailedError as exc:
        return JSONResponse(_failed(exc), status_code=502)
    return JSONResponse(result.model_dump(mode="json"), headers={"x-sophia-trace-id": result.trace_id})


def _start(state: ServiceState, workflow: Workflow, body: RunRequest,
           on_event: Callable[[WorkflowEvent], None]) -> Any:
    return run_workflow(workflow, body.input, budget_usd=body.budget_usd, deadline_s=body.deadline_s,
                        on_event=on_event, artemis=state.artemis, sophia=state.sophia)


async def _events(state: ServiceState, workflow: Workflow, body: RunRequest) -> AsyncIterator[str]:
    queue: asyncio.Queue[WorkflowEvent | None] = asyncio.Queue()
    record = recorder(state.analytics)

    def on_event(event: WorkflowEvent) -> None:
        record(event)
        if not isinstance(event, RunFinished):  # the result follows as its own event
            queue.put_nowait(event)

    task: asyncio.Task[WorkflowResult] = asyncio.create_task(_start(state, workflow, body, on_event))
    task.add_done_callback(lambda _: queue.put_nowait(None))
    try:
        while (event := await queue.get()) is not None:
            yield _sse(event.type, event.model_dump_json())
        try:
            result = task.result()
        except WorkflowFailedError as exc:
            yield _sse("error", json.dumps(_failed(exc)))
        except SophiaError as exc:
            status, code, extra = describe(exc)
            yield _sse("error", json.dumps(error_body(status, str(exc), code=code, **extra)))
        else:
            yield _sse("result", result.model_dump_json())
    finally:
        if not task.done():  # the client went away mid-stream: stop the run's calls
            await _cancel(task)


def _sse(event: str, data: str) -> str:
    return f"event: {event}\ndata: {data}\n\n"


async def recent_runs(analytics: AnalyticsStore, minutes: int | None) -> list[dict[str, Any]]:
    """The latest runs of the window (the last 24 hours when the window is automatic), for the dashboard."""
    since = time.time() - (minutes if minutes is not None else 24 * 60) * 60
    try:
        return await analytics.recent_runs(since, RECENT_RUNS)
    except Exception as exc:  # noqa: BLE001 - a broken analytics database empties the panel, nothing more
        log.warning("workflow runs unavailable: %s", type(exc).__name__)
        return []


@dashboard_router.get("/runs")
async def runs(state: StateDep, minutes: Annotated[int, Query(ge=1, le=7 * 24 * 60)] = 24 * 60) -> dict[str, Any]:
    """The latest workflow runs (at most 20), newest first, each with its steps' timing, status,
    provider and cost."""
    return {"runs": await recent_runs(state.analytics, minutes)}


@dashboard_router.get("/runs/{trace_id}")
async def run_timeline(trace_id: str, state: StateDep) -> dict[str, Any]:
    """One run and every LLM call recorded with its trace id (the step timeline's calls)."""
    if len(trace_id) > 64:
        raise InvalidRequestError("trace_id is at most 64 characters")
    found = await state.analytics.run(trace_id)
    if found is None:
        raise HTTPException(404, f"no workflow run with trace id {trace_id!r}")
    return {"run": found, "calls": await state.analytics.calls_of(trace_id)}
