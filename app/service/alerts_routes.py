"""Operations feeds: alerts (active, history, anomalies) for the dashboard's panel, and key ages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from app.alerts import AlertHistory
from app.service.deps import authenticated
from app.service.state import StateDep

router = APIRouter()


@router.get("/api/alerts", dependencies=[Depends(authenticated)])
async def alerts(state: StateDep) -> dict[str, Any]:
    """Active alerts and the notification history (every instance's, with Redis), what this instance
    sees pending or firing, and the usage anomalies of the last intervals."""
    ops = state.operations
    history = await ops.history.recent()
    return {
        "active": AlertHistory.active(history),
        "history": history,
        "local": ops.evaluator.firing() if ops.evaluator else [],
        "rules": [{"name": r.name, "signal": r.signal.value, "severity": r.severity}
                  for r in (ops.evaluator.rules if ops.evaluator else [])],
        "anomalies": ops.anomalies.snapshot(),
        "shared": ops.evaluator.ledger.shared if ops.evaluator else False,
    }


@router.get("/api/keys", dependencies=[Depends(authenticated)])
async def keys(state: StateDep) -> dict[str, Any]:
    """Each configured key's fingerprint (never the key), age and rotation state, as this process uses them."""
    return {"keys": [s.as_dict() for s in state.operations.keys.observe(state.manager.settings)]}
