"""The sources of the signals that are state rather than traffic: circuits, budgets, stores, keys.

Each reads its state at most once per ``refresh`` seconds (a Redis round trip or a file read per
target is fine every few seconds, not after every call), and sets the gauge Prometheus scrapes, so
the exported rules see what the service sees.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from app.alerts import metrics
from app.alerts.signals import Sample, Signal
from app.core.observation import CallRecord

MAX_TRACKED = 500
"""Targets or budget scopes tracked at once."""


class _Refreshing:
    """Samples recomputed at most every ``refresh`` seconds."""

    signals: frozenset[Signal] = frozenset()

    def __init__(self, refresh: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.refresh = refresh
        self._clock = clock
        self._at = float("-inf")
        self._cached: list[Sample] = []

    async def samples(self, signal: Signal, rule: Any, now: float) -> list[Sample]:
        """The cached samples, read again when older than ``refresh``."""
        if self._clock() - self._at >= self.refresh:
            self._cached = await self.read()
            self._at = self._clock()
        return self._cached

    async def read(self) -> list[Sample]:
        """The current samples."""
        raise NotImplementedError


class CircuitSource(_Refreshing):
    """``circuit_open``: each target's circuit (0 closed, 1 half-open, 2 open), for targets calls used."""

    signals = frozenset({Signal.CIRCUIT_OPEN})

    def __init__(self, circuits: Any, refresh: float, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(refresh, clock)
        self.circuits = circuits
        self._labels: dict[str, None] = {}

    def __call__(self, record: CallRecord) -> None:
        """Remember the targets of a call's chain."""
        for label in record.chain:
            if label not in self._labels and len(self._labels) < MAX_TRACKED:
                self._labels[label] = None

    async def read(self) -> list[Sample]:
        """The breakers' snapshot (shared through Redis when they are)."""
        if not self._labels:
            return []
        snapshot = await self.circuits.snapshot(list(self._labels))
        level = {"closed": 0, "half_open": 1, "open": 2}
        out = []
        for label, entry in snapshot.items():
            provider, _, model = label.partition("/")
            out.append(Sample.of(level[entry["state"]], provider=provider, model=model))
        return out


class BudgetSource(_Refreshing):
    """``budget_used``: the share of each USD budget spent, for the scopes calls counted against."""

    signals = frozenset({Signal.BUDGET_USED})

    def __init__(self, limits: Any, refresh: float, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(refresh, clock)
        self.limits = limits
        self._scopes: dict[tuple[str, str], Any] = {}

    def __call__(self, record: CallRecord) -> None:
        """Remember the budgeted scopes of a call."""
        for scope in self.limits.scopes(record.metadata):
            key = (scope.kind, scope.subject)
            if (scope.limits.usd_per_day or scope.limits.usd_per_month) and key not in self._scopes \
                    and len(self._scopes) < MAX_TRACKED:
                self._scopes[key] = scope

    async def read(self) -> list[Sample]:
        """Spent / budget per scope and period, from the limit store."""
        out = []
        for scope in list(self._scopes.values()):
            for limit, spent, budget in await self.limits.spent(scope):
                ratio = spent / budget
                metrics.BUDGET_USED.labels(scope.kind, scope.subject, limit).set(ratio)
                out.append(Sample.of(ratio, scope=scope.kind, subject=scope.subject, limit=limit))
        return out


class StoreSource(_Refreshing):
    """``store_down``: 1 for each configured store whose probe fails (a local ping, not a paid call)."""

    signals = frozenset({Signal.STORE_DOWN})

    def __init__(self, probe: Callable[[], Awaitable[dict[str, tuple[bool, str]]]], refresh: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(refresh, clock)
        self.probe = probe

    async def read(self) -> list[Sample]:
        """Each configured store's probe: (ok, reason) per store name."""
        out = []
        for store, (ok, reason) in (await self.probe()).items():
            if reason.startswith("not configured"):
                continue
            down = 0.0 if ok else 1.0
            metrics.STORE_DOWN.labels(store).set(down)
            out.append(Sample.of(down, store=store))
        return out


class KeySource(_Refreshing):
    """``key_rotation``: 0 within policy, 1 due, 2 overdue, for each configured key."""

    signals = frozenset({Signal.KEY_ROTATION})

    def __init__(self, ledger: Any, settings: Callable[[], Any], refresh: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(refresh, clock)
        self.ledger = ledger
        self.settings = settings

    async def read(self) -> list[Sample]:
        """From the key ledger (keys seen for the first time are recorded)."""
        out = []
        for status in self.ledger.observe(self.settings()):
            metrics.KEY_ROTATION.labels(status.variable).set(status.level)
            metrics.KEY_AGE.labels(status.variable).set(status.age_days)
            out.append(Sample.of(status.level, variable=status.variable))
        return out
