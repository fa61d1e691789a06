"""A finished run as a row of the analytics store (the dashboard's recent runs and step timelines)."""

from __future__ import annotations

import json
from collections.abc import Callable

from app.analytics import AnalyticsStore, RunRecord
from app.workflows.results import RunFinished, WorkflowEvent, WorkflowResult


def run_record(result: WorkflowResult) -> RunRecord:
    """The run's row: totals, and each step's timing, status, who served it and what it cost."""
    steps = [{
        "name": s.name, "role": s.role, "status": s.status, "started_ms": s.started_ms, "ended_ms": s.ended_ms,
        "provider": s.routing.provider if s.routing else None, "model": s.routing.model if s.routing else None,
        "fallback_used": bool(s.routing and s.routing.fallback_used), "cached": s.routing.cached if s.routing else None,
        "calls": s.routing.calls if s.routing else 0, "cost_usd": s.cost_usd, "error": s.error,
    } for s in result.steps]
    started = result.started_at.timestamp()
    return RunRecord(
        ts=started + result.duration_ms / 1000, trace_id=result.trace_id, workflow=result.workflow,
        status=result.status, partial=result.partial, stopped=result.stopped, started_at=started,
        duration_ms=result.duration_ms, cost_usd=result.cost_usd, prompt_tokens=result.usage.prompt_tokens,
        completion_tokens=result.usage.completion_tokens, steps=json.dumps(steps), error=result.error,
    )


def recorder(store: AnalyticsStore) -> Callable[[WorkflowEvent], None]:
    """An ``on_event`` observer that records each run in ``store`` when it ends (however it ends)."""

    def record(event: WorkflowEvent) -> None:
        if isinstance(event, RunFinished):
            store.observe_run(run_record(event.result))

    return record
