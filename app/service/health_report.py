"""One health report for the whole system, from both factories' checks (the service and the CLI)."""

from __future__ import annotations

import asyncio
from typing import Any

_ORDER = {"operational": 0, "degraded": 1, "down": 2}


async def combined_health(artemis: Any, sophia: Any, force: bool = False) -> dict[str, Any]:
    """Both factories' health checks (they share one probe cache) merged: the worst status wins."""
    first, second = await asyncio.gather(artemis.health_check(force), sophia.health_check(force))
    report = dict(first)
    report["status"] = max(first["status"], second["status"], key=_ORDER.__getitem__)
    reasons = list(dict.fromkeys([*first["details"]["reasons"], *second["details"]["reasons"]]))
    report["details"] = {**first["details"], "roles": {**first["details"]["roles"], **second["details"]["roles"]},
                         "reasons": reasons}
    return report
