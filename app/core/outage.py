"""Leaving a failing dependency alone for a while: one helper for the cache, the limiter, memory and embedders.

A dependency (Redis, a vector store, an embedder) that fails is not asked again for ``pause``
seconds, so an outage costs one timeout per pause instead of one per request. The outage is logged
once when it starts and once when the first success ends it. ``guard`` runs one optional step
(agent memory, document retrieval) so that it degrades instead of failing the request around it.

Report only failures that mean the dependency is down, never one a reconnect would have cured: a
pause opened by each stale pooled connection after a Redis restart let every request of a burst
pass the rate limiter. Redis users get their connections from ``app.core.redis_link``, which resends
a command on a fresh connection before anything is reported here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class Outage:
    """The health of one dependency, as seen by its callers."""

    def __init__(self, what: str, pause: float, log: logging.Logger, *, consequence: str = "",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.what = what
        self.pause = pause
        self.consequence = consequence
        self._log = log
        self._clock = clock
        self.down = False
        self._retry_at = 0.0

    @property
    def paused(self) -> bool:
        """True while the dependency failed less than ``pause`` seconds ago: do not ask it."""
        return self.down and self._clock() < self._retry_at

    def failed(self, reason: str) -> None:
        """Record a failure: the dependency is left alone for ``pause`` seconds."""
        self._retry_at = self._clock() + self.pause
        if not self.down:
            self.down = True
            tail = f"; {self.consequence}" if self.consequence else ""
            self._log.warning("%s is unavailable (%s)%s", self.what, reason, tail)
        else:
            self._log.debug("%s still unavailable (%s)", self.what, reason)

    def succeeded(self) -> None:
        """Record a success: an outage, if any, is over."""
        if self.down:
            self.down = False
            self._log.info("%s is available again", self.what)

    async def guard(self, operation: str, work: Callable[[], Awaitable[T]], default: T,
                    skipped: Callable[[], object]) -> T:
        """``work()``, or ``default`` while paused or when it raises (then the outage starts).

        ``work`` bounds its own time (a ``TimeoutError`` counts as a failure); ``skipped()`` is called
        for every step that returns ``default`` (callers count them in a metric).
        """
        if self.paused:
            skipped()  # a failing dependency is not asked again for a while
            return default
        try:
            result = await work()
        except Exception as exc:  # noqa: BLE001 - the step is optional, the request is not
            skipped()
            reason = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
            self.failed(f"{operation}: {reason[:300]}")
            return default
        self.succeeded()
        return result
