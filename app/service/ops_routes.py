"""Operations: health, Prometheus metrics, the dashboard page and its JSON feed."""

from __future__ import annotations

import asyncio
import math
import time
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

import app.vectors.metrics  # noqa: F401 - so /metrics lists the vector-store series before the first call
from app.analytics.summary import empty_provider, provider_table, role_table
from app.analytics.timeline import build_timeline
from app.documents.store import DocumentStore
from app.service.dashboard_page import render_dashboard
from app.service.deps import authenticated
from app.service.health_report import combined_health
from app.service.state import ServiceState, StateDep
from app.service.workflow_routes import recent_runs
from app.telemetry import record_health

router = APIRouter()

DOCUMENTS_STATS_TIMEOUT = 5.0
"""Seconds the dashboard waits for the document store's counts before showing it as unavailable."""
FORCE_INTERVAL = 5.0
"""Seconds within which ``/health?force=true`` reuses the last probe: forcing cannot turn polling into
a stream of paid completions."""


def package_version() -> str:
    """The installed package's version; ``dev`` when running from a source tree without one."""
    try:
        return version("sophia-intel-ai")
    except PackageNotFoundError:
        return "dev"


async def check_health(state: ServiceState, force: bool = False) -> dict[str, Any]:
    """Probe providers and stores, and keep the report for the dashboard and the health metrics."""
    report = await combined_health(state.artemis, state.sophia, force)
    state.last_health = report
    record_health(report)
    return report


@router.get("/health", dependencies=[Depends(authenticated)])
async def health(state: StateDep, force: bool = False) -> JSONResponse:
    """Health of the providers, role chains and vector stores.

    ``status`` is ``operational``, ``degraded`` (some provider fails) or ``down`` (the gateway is
    unreachable, no provider is configured or a role has no healthy provider; then HTTP 503).
    Probe results are reused for 15 s; ``force=true`` probes again (each probe is a 1-token completion),
    at most once per 5 s: a forced request within that time gets the last probe's results.
    """
    if force:
        now = time.monotonic()
        force = now - state.last_forced >= FORCE_INTERVAL
        if force:
            state.last_forced = now
    report = await check_health(state, force)
    return JSONResponse(report, status_code=503 if report["status"] == "down" else 200)


@router.get("/metrics", dependencies=[Depends(authenticated)])
async def metrics() -> Response:
    """Prometheus metrics: requests, latency, fallbacks, tokens, cost, cache, vector stores."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def dashboard(state: StateDep) -> HTMLResponse:
    # The page itself holds no data (the script fetches it with the caller's token), so it is open.
    """The dashboard page; it loads its data from /api/dashboard with the caller's token."""
    return HTMLResponse(render_dashboard(state.config.sandboxed, package_version(), state.config.control_url))


AUTO_WINDOW_MAX = 24 * 3600
AUTO_WINDOW_MIN = 30


def dashboard_window(minutes: int | None, first_request: float | None, started_at: float,
                     now: float) -> tuple[float, int]:
    """(since, bucket seconds) of the dashboard's charts, about 60 buckets wide.

    ``minutes`` None (the default) spans the traffic since the service started: from its first request
    (or the start), at least 30 seconds and at most 24 hours, so new traffic fills the charts instead of
    sitting at the right edge of an hour.
    """
    if minutes is None:
        start = first_request if first_request is not None else started_at
        span = min(AUTO_WINDOW_MAX, max(AUTO_WINDOW_MIN, (now - start) * 1.05))
    else:
        span = minutes * 60
    return now - span, max(2, math.ceil(span / 60))


def _health_summary(report: dict[str, Any] | None) -> dict[str, Any] | None:
    if report is None:
        return None
    details = report["details"]
    return {"status": report["status"], "checked_at": details["checked_at"], "reasons": details.get("reasons", []),
            "providers": details["providers"], "stores": details["vector_databases"],
            "gateway": details["gateway"]}


async def documents_summary(store: DocumentStore) -> dict[str, Any]:
    """The dashboard's documents tile: sources, chunks and the last ingest, or why they are unavailable."""
    try:
        async with asyncio.timeout(DOCUMENTS_STATS_TIMEOUT):
            stats = await store.stats()
    except Exception as exc:  # noqa: BLE001 - a broken document store empties its tile, nothing more
        return {"sources": None, "chunks": None, "last_added_at": None,
                "error": f"document store unavailable ({type(exc).__name__})"}
    return {"sources": stats["sources"], "chunks": stats["chunks"], "last_added_at": stats["last_added_at"],
            "error": None}


@router.get("/api/dashboard", dependencies=[Depends(authenticated)])
async def dashboard_data(state: StateDep,
                         minutes: Annotated[int | None, Query(ge=1, le=7 * 24 * 60)] = None) -> dict[str, Any]:
    """The dashboard's data: a timeline, per-provider and per-role tables, recent errors, last health,
    circuits, the documents tile and the latest workflow runs.

    ``minutes`` is the window; without it, the window spans the traffic since the service started.
    """
    until = time.time()
    since = until - minutes * 60 if minutes is not None else max(state.started_at, until - AUTO_WINDOW_MAX)
    analytics_error = None
    try:
        rows = await state.analytics.rows_since(since)
    except Exception as exc:  # noqa: BLE001 - a broken analytics database empties the charts, nothing more
        rows, analytics_error = [], f"analytics database unavailable ({type(exc).__name__})"
    since, bucket = dashboard_window(minutes, rows[0]["ts"] if rows else None, state.started_at, until)
    providers = provider_table(rows)
    listed = {p["name"] for p in providers}
    providers += [empty_provider(name) for name in state.manager.router.configured_providers() if name not in listed]
    return {
        "window": {"since": since, "until": until, "minutes": minutes, "auto": minutes is None},
        "timeline": build_timeline(rows, since, until, bucket),
        "providers": providers,
        "roles": role_table(rows),
        "recent_errors": state.recent_errors.latest(),
        "health": _health_summary(state.last_health),
        "circuits": state.last_health["details"].get("circuits", {}) if state.last_health else {},
        "sandbox": list(state.config.sandboxed),
        "control_url": state.config.control_url if state.config.sandboxed else None,
        "analytics_backend": state.analytics.backend,
        "analytics_error": analytics_error,
        "documents": await documents_summary(state.documents),
        "workflow_runs": await recent_runs(state.analytics, minutes),
    }
