"""What alert rules watch: signals, the samples a source gives for one, and the traffic window.

A ``Source`` answers for some signals: ``samples(signal, rule, now)`` is the signal's current value
per label set (a provider, a target, a budget...). A label set without a sample (no traffic, fewer
calls than the rule's ``min_requests``) is not judged: an alert it had resolves like a clear value.

``TrafficWindow`` is the source fed by the manager's observations (the same ``CallRecord``s that feed
the Prometheus metrics): calls, failures, fallbacks, upstream attempts and latency histograms per
provider, in one-second buckets, so a rule's window is a sum over buckets and a p95 is read from
the histogram exactly as Prometheus' ``histogram_quantile`` reads ``sophia_request_latency_seconds``.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from app.core.errors import StreamClosedError
from app.core.observation import CallRecord
from app.telemetry.metrics import LATENCY_BUCKETS


class Signal(str, Enum):
    """Every signal a rule can watch (the README's Operating it section lists their labels)."""

    ERROR_RATE = "error_rate"
    FALLBACK_RATE = "fallback_rate"
    LATENCY_P95 = "latency_p95"
    PROVIDER_FAILURE_RATE = "provider_failure_rate"
    CIRCUIT_OPEN = "circuit_open"
    BUDGET_USED = "budget_used"
    USAGE_SPIKE = "usage_spike"
    USAGE_DROP = "usage_drop"
    STORE_DOWN = "store_down"
    KEY_ROTATION = "key_rotation"


@dataclass(frozen=True, slots=True)
class Sample:
    """A signal's value for one label set."""

    labels: tuple[tuple[str, str], ...]
    value: float

    @classmethod
    def of(cls, value: float, **labels: str) -> Sample:
        """A sample with ``labels`` in a stable order."""
        return cls(tuple(sorted(labels.items())), float(value))


class Source(Protocol):
    """Gives samples for the signals it knows."""

    signals: frozenset[Signal]

    async def samples(self, signal: Signal, rule: Any, now: float) -> list[Sample]:
        """The signal's samples at ``now`` for ``rule`` (its window and minimum count)."""
        ...


@dataclass
class _ProviderCell:
    attempts: int = 0
    failed_attempts: int = 0
    latency: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))


@dataclass
class _Second:
    calls: int = 0
    failed: int = 0
    fallbacks: int = 0
    providers: dict[str, _ProviderCell] = field(default_factory=dict)

    def provider(self, name: str) -> _ProviderCell:
        cell = self.providers.get(name)
        if cell is None:
            cell = self.providers[name] = _ProviderCell()
        return cell


def histogram_quantile(q: float, counts: list[int]) -> float | None:
    """The ``q`` quantile of a histogram over ``LATENCY_BUCKETS`` (last cell: +Inf), as Prometheus
    interpolates it: linearly inside the bucket, the highest finite bound for the +Inf bucket."""
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(counts):
        if seen + count >= rank and count:
            if index == len(LATENCY_BUCKETS):
                return LATENCY_BUCKETS[-1]
            lower = 0.0 if index == 0 else LATENCY_BUCKETS[index - 1]
            upper = LATENCY_BUCKETS[index]
            return lower + (upper - lower) * (rank - seen) / count
        seen += count
    return LATENCY_BUCKETS[-1]


class TrafficWindow:
    """The observer that keeps recent traffic, and the source of the traffic signals."""

    signals = frozenset({Signal.ERROR_RATE, Signal.FALLBACK_RATE, Signal.LATENCY_P95,
                         Signal.PROVIDER_FAILURE_RATE})

    def __init__(self, horizon: float = 3600.0, clock: Callable[[], float] = time.time,
                 on_record: Callable[[], None] | None = None) -> None:
        self.horizon = horizon
        self._clock = clock
        self._seconds: dict[int, _Second] = {}
        self.on_record = on_record
        """Called after each record (the evaluator's wake-up)."""

    def __call__(self, record: CallRecord) -> None:
        """Count one finished call (a caller who stopped reading a stream is not a failure)."""
        if record.metadata.get("purpose") == "health":
            return  # probes are not traffic
        now = self._clock()
        second = self._seconds.get(int(now))
        if second is None:
            second = self._seconds[int(now)] = _Second()
            self._forget(now)
        routing = record.routing
        second.calls += 1
        if routing is None and not isinstance(record.error, StreamClosedError):
            second.failed += 1
        attempts = routing.attempts if routing else getattr(record.error, "attempts", ())
        for attempt in attempts:
            cell = second.provider(attempt.provider)
            cell.attempts += 1
            cell.failed_attempts += 0 if attempt.ok else 1
        if routing is not None:
            second.fallbacks += 1 if routing.fallback_used else 0
            cell = second.provider(routing.provider)
            cell.latency[bisect.bisect_left(LATENCY_BUCKETS, record.latency_ms / 1000)] += 1
        if self.on_record is not None:
            self.on_record()

    def _forget(self, now: float) -> None:
        oldest = int(now - self.horizon)
        for stale in [s for s in self._seconds if s < oldest]:
            del self._seconds[stale]

    def _window(self, window: float, now: float) -> Iterable[_Second]:
        start = math.floor(now - window)
        return [cell for second, cell in self._seconds.items() if start < second <= now]

    async def samples(self, signal: Signal, rule: Any, now: float) -> list[Sample]:
        """The traffic signal over ``rule.window`` seconds before ``now``."""
        seconds = self._window(rule.window, now)
        if signal in (Signal.ERROR_RATE, Signal.FALLBACK_RATE):
            calls = sum(s.calls for s in seconds)
            if calls < rule.min_requests:
                return []
            part = sum(s.failed if signal is Signal.ERROR_RATE else s.fallbacks for s in seconds)
            return [Sample.of(part / calls)]
        per_provider: dict[str, _ProviderCell] = {}
        for second in seconds:
            for name, cell in second.providers.items():
                total = per_provider.setdefault(name, _ProviderCell())
                total.attempts += cell.attempts
                total.failed_attempts += cell.failed_attempts
                total.latency = [a + b for a, b in zip(total.latency, cell.latency, strict=True)]
        out = []
        for name, cell in sorted(per_provider.items()):
            if signal is Signal.PROVIDER_FAILURE_RATE and cell.attempts >= rule.min_requests:
                out.append(Sample.of(cell.failed_attempts / cell.attempts, provider=name))
            elif signal is Signal.LATENCY_P95 and sum(cell.latency) >= rule.min_requests:
                p95 = histogram_quantile(0.95, cell.latency)
                if p95 is not None:
                    out.append(Sample.of(p95, provider=name))
        return out
