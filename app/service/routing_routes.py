"""Routing policies over HTTP: feedback on calls, the loaded policy, and A/B experiment reports.

    POST /v1/feedback                   {"trace_id": ..., "score": 0..1, "comment": ...}
    GET  /v1/routes                     the routing policy in force (version, roles, routes, last reload error)
    GET  /api/experiments?minutes=1440  every experiment of the policy, variants compared
    GET  /api/experiments/{name}        one experiment (a route, or a role domain/role)
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from app.analytics.experiments import experiment_report
from app.service.deps import authenticated, rate_limited
from app.service.state import StateDep

router = APIRouter()
WEEK_MINUTES = 7 * 24 * 60


class Feedback(BaseModel):
    """A score for the answer of one call, by its trace id (``x-sophia-trace-id``, ``routing.trace_id``)."""

    trace_id: str
    score: float
    comment: str | None = None


@router.post("/v1/feedback", dependencies=[Depends(rate_limited)])
async def feedback(body: Feedback, state: StateDep) -> dict[str, Any]:
    """Record how good a call's answer was: ``score`` from 0 (bad) to 1 (good), optionally a comment.

    Experiments compare the variants' mean scores. 400 for a score outside 0..1 or a comment over
    2,000 characters.
    """
    record = state.manager.feedback(body.trace_id, body.score, body.comment)
    return {"object": "feedback", "trace_id": record.trace_id, "score": record.score}


@router.get("/v1/routes", dependencies=[Depends(authenticated)])
async def routes(state: StateDep) -> dict[str, Any]:
    """The routing policy in force: its version, source, roles and routes, and the last reload error."""
    return state.manager.policies.summary()


@router.get("/api/experiments", dependencies=[Depends(authenticated)])
async def experiments(state: StateDep,
                      minutes: Annotated[int, Query(ge=1, le=WEEK_MINUTES)] = 1440) -> dict[str, Any]:
    """Every experiment of the policy (a route or role with a loadbalance), variants compared over ``minutes``."""
    since = time.time() - minutes * 60
    found = state.manager.policies.current.experiments()
    try:
        reports = await asyncio.gather(*(experiment_report(state.analytics, name, since, variants)
                                         for name, variants in found.items()))
    except Exception as exc:  # noqa: BLE001 - a broken analytics database empties the panel, nothing more
        return {"experiments": [], "error": f"analytics database unavailable ({type(exc).__name__})"}
    return {"experiments": [r.as_dict() for r in reports], "error": None}


@router.get("/api/experiments/{name:path}", dependencies=[Depends(authenticated)])
async def experiment(name: str, state: StateDep,
                     minutes: Annotated[int, Query(ge=1, le=WEEK_MINUTES)] = 1440) -> dict[str, Any]:
    """One experiment's report (a route name, or a role ``domain/role``) over the last ``minutes``."""
    variants = state.manager.policies.current.experiments().get(name, ())
    report = await experiment_report(state.analytics, name, time.time() - minutes * 60, variants)
    return report.as_dict()
