"""Workflow runs as rows: one per run (``<prefix>workflow_runs``), its steps as JSON.

A run's LLM calls are rows of the requests table with the run's trace id; together they are the run's
timeline (``AnalyticsStore.run`` and ``calls_of``). ``app.workflows`` turns a run's result into a
``RunRecord``; this module only stores and reads them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Boolean, Column, Float, Integer, MetaData, String, Table, Text

MAX_ERROR = 1000


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One finished run (completed, partial, failed or cancelled)."""

    ts: float
    """Unix time the run ended."""
    trace_id: str
    workflow: str
    status: str
    partial: bool
    stopped: str | None
    started_at: float
    """Unix time the run started."""
    duration_ms: float
    cost_usd: float
    prompt_tokens: int
    completion_tokens: int
    steps: str
    """JSON list of the steps: name, role, status, provider, model, fallback_used, cached, cost_usd,
    started_ms, ended_ms (from the run's start), error."""
    error: str | None = None

    def as_row(self) -> dict[str, object]:
        """The row as a column -> value dict (the error cut to its column)."""
        row = asdict(self)
        if isinstance(self.error, str):
            row["error"] = self.error[:MAX_ERROR]
        return row


def runs_table(metadata: MetaData, prefix: str) -> Table:
    """The runs table (created next to the requests table; older databases gain it at start)."""
    return Table(
        f"{prefix}workflow_runs", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("ts", Float, nullable=False, index=True),
        Column("trace_id", String(64), nullable=False, index=True),
        Column("workflow", String(64), nullable=False),
        Column("status", String(16), nullable=False),
        Column("partial", Boolean, nullable=False),
        Column("stopped", String(16)),
        Column("started_at", Float, nullable=False),
        Column("duration_ms", Float, nullable=False),
        Column("cost_usd", Float, nullable=False),
        Column("prompt_tokens", Integer, nullable=False),
        Column("completion_tokens", Integer, nullable=False),
        Column("steps", Text, nullable=False),
        Column("error", String(MAX_ERROR)),
    )


def run_from_row(row: dict[str, Any]) -> dict[str, Any]:
    """A stored run as JSON-ready data (its steps parsed)."""
    out = {k: v for k, v in row.items() if k != "id"}
    out["steps"] = json.loads(row["steps"] or "[]")
    out["partial"] = bool(row["partial"])
    return out
