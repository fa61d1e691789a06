"""A moving-window rate limit kept in this process's memory: the service's limiter without Redis.

The ``limits`` library's async memory storage starts a task that hops to a worker thread
(``asyncio.to_thread``) on every hit to expire old entries, and prepends each hit to a list (a copy
of the window each time): at a few hundred requests a second that cost the service about 8% of its
CPU. Here each caller's window is a deque of hit times: a hit drops the expired ones from the left
and appends, O(1) amortised, no task, no thread. The semantics are the library's moving window: a
hit is allowed while fewer than ``limit`` hits fell in the last ``seconds``.
"""

from __future__ import annotations

import time
from collections import deque


class MovingWindow:
    """At most ``limit`` hits per caller in any ``seconds``-long window."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._hits: dict[str, deque[float]] = {}
        self._next_sweep = 0.0

    def hit(self, caller: str, now: float | None = None) -> float | None:
        """Count one hit of ``caller``: None when allowed, else the seconds until one is (nothing counted)."""
        now = time.monotonic() if now is None else now
        cutoff = now - self.seconds
        hits = self._hits.get(caller)
        if hits is None:
            hits = self._hits[caller] = deque()
        while hits and hits[0] <= cutoff:
            hits.popleft()
        if len(hits) >= self.limit:
            return hits[0] - cutoff
        hits.append(now)
        if now >= self._next_sweep:
            self._sweep(cutoff)
            self._next_sweep = now + self.seconds
        return None

    def _sweep(self, cutoff: float) -> None:
        # Callers that went quiet would otherwise keep their (expired) window forever: once per window,
        # forget every caller whose last hit has expired.
        for caller in [c for c, hits in self._hits.items() if not hits or hits[-1] <= cutoff]:
            del self._hits[caller]

    @property
    def callers(self) -> int:
        """Callers with a window in memory (their hits may have expired since the last sweep)."""
        return len(self._hits)
