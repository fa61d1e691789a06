"""The alert history the dashboard shows: the newest notifications, shared through Redis when set.

Only the instance that notifies records an event (the ledger picks it), so a shared history holds each
firing and each resolution once. Active alerts are those whose latest event is ``firing``.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from typing import Any

from app.core.outage import Outage
from app.core.redis_link import LoopClients

log = logging.getLogger("app.alerts")

KEEP = 200


class AlertHistory:
    """The last ``KEEP`` notifications, in this process and (with ``redis_url``) in Redis."""

    def __init__(self, redis_url: str | None = None, namespace: str = "sophia") -> None:
        self._local: deque[dict[str, Any]] = deque(maxlen=KEEP)
        self._clients = LoopClients(redis_url) if redis_url else None
        self._key = f"{namespace}:alerts:history"
        self.outage = Outage("alert history store", 5.0, log, consequence="the dashboard shows this instance's")

    async def record(self, event: dict[str, Any]) -> None:
        """Add one notification (newest first)."""
        self._local.appendleft(event)
        if self._clients is None or self.outage.paused:
            return
        try:
            async with self._clients.client().pipeline(transaction=True) as pipe:
                pipe.lpush(self._key, json.dumps(event))
                pipe.ltrim(self._key, 0, KEEP - 1)
                await pipe.execute()
        except Exception as exc:  # noqa: BLE001 - the history is a view, never a reason to fail
            self.outage.failed(type(exc).__name__)
            return
        self.outage.succeeded()

    async def recent(self, limit: int = KEEP) -> list[dict[str, Any]]:
        """The newest notifications first (every instance's, when shared)."""
        if self._clients is not None and not self.outage.paused:
            try:
                raw = await self._clients.client().lrange(self._key, 0, limit - 1)
            except Exception as exc:  # noqa: BLE001
                self.outage.failed(type(exc).__name__)
            else:
                self.outage.succeeded()
                return [json.loads(item) for item in raw]
        return list(self._local)[:limit]

    @staticmethod
    def active(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The alerts whose newest event (``events`` newest first) is a firing one."""
        latest: dict[str, dict[str, Any]] = {}
        for event in events:
            latest.setdefault(event["fingerprint"], event)
        return [e for e in latest.values() if e["status"] == "firing"]

    async def aclose(self) -> None:
        """Close the running loop's pool."""
        if self._clients is not None:
            await self._clients.aclose()
