"""Helpers of the cache tests: counting calls (their throwaway Redis is ``redis_server``, in the parent
conftest)."""

from __future__ import annotations

from typing import Any

import pytest


class Calls:
    """How many requests each simulated provider received since the helper was made."""

    def __init__(self, simulators: Any) -> None:
        self._control = simulators.control
        self._start = self._totals()

    def _totals(self) -> dict[str, int]:
        return {name: s["total"] for name, s in self._control.stats().items()}

    def __call__(self, provider: str | None = None) -> int:
        now = self._totals()
        if provider is not None:
            return now[provider] - self._start.get(provider, 0)
        return sum(now[p] - self._start.get(p, 0) for p in now)

    def last_body(self, provider: str) -> Any:
        return self._control.stats()[provider]["last_body"]


@pytest.fixture
def calls(simulators: Any) -> Calls:
    return Calls(simulators)
