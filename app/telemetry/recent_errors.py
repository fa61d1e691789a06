"""The last failures the manager saw, for the dashboard's recent-errors list (in memory, per process).

A call that failed outright is listed with its error; a call that succeeded only after some of its
upstream attempts failed is listed too, with those attempts, so failures a fallback hid stay visible.
Texts are scrubbed of anything key-shaped; health probes are left out (they are not traffic).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from app.core.errors import StreamClosedError
from app.core.observation import CallRecord
from app.core.redaction import describe_error
from app.core.results import summarize_attempts


class RecentErrors:
    """A manager observer keeping the newest ``size`` failures (failed calls and failed attempts)."""

    def __init__(self, size: int = 20) -> None:
        self._items: deque[dict[str, Any]] = deque(maxlen=size)
        self._lock = threading.Lock()  # the sync API reports from its own thread

    def __call__(self, record: CallRecord) -> None:
        """Keep ``record`` if something in it failed."""
        if record.metadata.get("purpose") == "health" or isinstance(record.error, StreamClosedError):
            return
        base = {"ts": time.time(), "kind": record.kind, "requested": record.chain[0] if record.chain else "",
                "role": "/".join(filter(None, (record.metadata.get("domain"), record.metadata.get("role"))))}
        if record.error is not None:
            entry = {**base, "outcome": "failed", "detail": describe_error(record.error)}
        else:
            failed = [a for a in (record.routing.attempts if record.routing else []) if not a.ok]
            if not failed:
                return
            served = f"{record.routing.provider}/{record.routing.model}" if record.routing else "?"
            entry = {**base, "outcome": f"served by {served}", "detail": summarize_attempts(failed)}
        with self._lock:
            self._items.append(entry)

    def latest(self, limit: int = 10) -> list[dict[str, Any]]:
        """The newest ``limit`` entries, newest first."""
        with self._lock:
            return list(reversed(self._items))[:limit]
