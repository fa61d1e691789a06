"""Usage anomalies: requests, tokens and cost per interval against an EWMA baseline with a deviation band.

Per provider, per role and per API token, each finished call adds to the open interval
(``ANOMALY_INTERVAL`` seconds). When an interval closes, its value is scored against the baseline
before the baseline learns it: ``score = (value - mean) / max(std, 10% of mean)``, where mean and
variance are exponentially weighted (``ANOMALY_ALPHA``). A baseline scores nothing during its warm-up
(``ANOMALY_WARMUP`` intervals). Intervals without traffic count as zero, so traffic that stops is a
drop, not silence. An anomalous interval is learnt clipped to the band's edge (4 band units), so one
spike neither becomes normal nor widens the band enough to hide a drop that follows, while a lasting
change of level is learnt over a few intervals.

The last closed interval's score is what the ``usage_spike`` (score above) and ``usage_drop``
(minus the score) signals report, and the ``sophia_usage_anomaly_score`` gauge exports.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.alerts import metrics
from app.alerts.signals import Sample, Signal
from app.core.observation import CallRecord
from app.core.pricing import cache_tokens
from app.resilience.limits import token_subject
from app.routing.policy import role_key
from app.telemetry.cost import call_cost

MEASURES = ("requests", "tokens", "cost_usd")
MAX_SUBJECTS = 1000
"""Subjects (providers, roles, tokens) tracked at once: a flood of new API tokens cannot exhaust memory."""
FLAG_SCORE = 4.0
"""The score an interval needs to enter the anomaly list shown on the dashboard (rules set their own)."""


@dataclass
class Baseline:
    """A measure's EWMA mean and variance, the intervals it has seen, and its latest score."""

    mean: float = 0.0
    variance: float = 0.0
    seen: int = 0
    idle: int = 0
    score: float | None = None
    last: float = 0.0

    def band(self) -> float:
        """The deviation one score unit stands for: the standard deviation, at least 10% of the mean."""
        return max(math.sqrt(self.variance), 0.1 * abs(self.mean), 1e-9)

    def learn(self, value: float, alpha: float) -> None:
        """Move the mean and the variance towards ``value``."""
        if self.seen == 0:
            self.mean, self.variance = value, 0.0
        else:
            delta = value - self.mean
            self.mean += alpha * delta
            self.variance = (1 - alpha) * (self.variance + alpha * delta * delta)
        self.seen += 1


@dataclass(frozen=True, slots=True)
class Anomaly:
    """A scored interval far from its baseline."""

    at: float
    dimension: str
    subject: str
    measure: str
    value: float
    expected: float
    score: float

    def as_dict(self) -> dict[str, Any]:
        """JSON for the dashboard."""
        return {"at": self.at, "dimension": self.dimension, "subject": self.subject, "measure": self.measure,
                "value": self.value, "expected": round(self.expected, 6), "score": round(self.score, 2),
                "direction": "spike" if self.score > 0 else "drop"}


def subjects(record: CallRecord) -> list[tuple[str, str]]:
    """(dimension, subject) pairs a call counts for: its provider, its role and its API token."""
    out = []
    provider = record.routing.provider if record.routing else (record.chain[0].split("/")[0] if record.chain else "")
    if provider:
        out.append(("provider", provider))
    meta = record.metadata
    if "domain" in meta and "role" in meta:
        out.append(("role", role_key(meta["domain"], meta["role"])))  # as the limits and budgets name it
    token = meta.get("api_token")
    if token:
        out.append(("api_token", token_subject(token)))
    return out


class UsageAnomalies:
    """The observer that builds the per-interval usage, and the source of the anomaly signals."""

    signals = frozenset({Signal.USAGE_SPIKE, Signal.USAGE_DROP})

    def __init__(self, interval: float = 60.0, alpha: float = 0.3, warmup: int = 10,
                 clock: Callable[[], float] = time.time) -> None:
        self.interval = interval
        self.alpha = alpha
        self.warmup = warmup
        self._clock = clock
        self._open = math.floor(clock() / interval)
        self._current: dict[tuple[str, str], list[float]] = {}
        self._baselines: dict[tuple[str, str, str], Baseline] = {}
        self.recent: deque[Anomaly] = deque(maxlen=100)

    def __call__(self, record: CallRecord) -> None:
        """Add one call's request, tokens and cost to its subjects' open interval."""
        if record.metadata.get("purpose") == "health":
            return
        self.roll(self._clock())
        tokens, cost = 0.0, 0.0
        routing = record.routing
        if routing is not None and not routing.cached:
            usage = routing.usage
            tokens = usage.prompt_tokens + usage.completion_tokens
            cost = call_cost(routing.provider, routing.model, usage.prompt_tokens, usage.completion_tokens,
                             *cache_tokens(usage)) or 0.0
        for key in subjects(record):
            cell = self._current.get(key)
            if cell is None:
                if len(self._current) >= MAX_SUBJECTS:
                    continue
                cell = self._current[key] = [0.0, 0.0, 0.0]
            cell[0] += 1
            cell[1] += tokens
            cell[2] += cost

    def roll(self, now: float) -> None:
        """Close every interval that ended before ``now`` (at most ``warmup`` empty ones after a long gap)."""
        index = math.floor(now / self.interval)
        if index <= self._open:
            return
        if index - self._open > self.warmup:
            self._close(self._open)  # the last interval with data, then the zeros a baseline needs to notice
            self._open = index - self.warmup
        while self._open < index:
            self._close(self._open)
            self._open += 1

    def _close(self, index: int) -> None:
        at = (index + 1) * self.interval
        subjects_ = set(self._current) | {(d, s) for d, s, _ in self._baselines}
        for dimension, subject in subjects_:
            values = self._current.get((dimension, subject), [0.0, 0.0, 0.0])
            for measure, value in zip(MEASURES, values, strict=True):
                self._score(at, dimension, subject, measure, value)
        self._current = {}

    def _score(self, at: float, dimension: str, subject: str, measure: str, value: float) -> None:
        key = (dimension, subject, measure)
        baseline = self._baselines.get(key)
        if baseline is None:
            if value == 0 or len(self._baselines) >= MAX_SUBJECTS * len(MEASURES):
                return
            baseline = self._baselines[key] = Baseline()
        baseline.last = value
        baseline.idle = baseline.idle + 1 if value == 0 else 0
        if baseline.idle > 3 * self.warmup:
            del self._baselines[key]  # long gone: forget it (it would score zero against zero)
            metrics.forget_anomaly(dimension, subject, measure)
            return
        learnt = value
        if baseline.seen >= self.warmup:
            band = baseline.band()
            baseline.score = (value - baseline.mean) / band
            metrics.anomaly(dimension, subject, measure, baseline.score)
            if abs(baseline.score) >= FLAG_SCORE:
                self.recent.append(Anomaly(at, dimension, subject, measure, value, baseline.mean, baseline.score))
                # Learnt only up to the band's edge: one spike neither becomes normal nor widens the band
                # for long (which would hide the next anomaly), while a lasting change is learnt step by step.
                edge = FLAG_SCORE * band
                learnt = min(max(value, baseline.mean - edge), baseline.mean + edge)
        baseline.learn(learnt, self.alpha)

    async def samples(self, signal: Signal, rule: Any, now: float) -> list[Sample]:
        """Each scored measure's deviation: above the band for spikes, below it for drops."""
        self.roll(now)
        sign = 1 if signal is Signal.USAGE_SPIKE else -1
        return [Sample.of(max(0.0, sign * b.score), dimension=d, subject=s, measure=m)
                for (d, s, m), b in sorted(self._baselines.items()) if b.score is not None]

    def snapshot(self) -> dict[str, Any]:
        """The dashboard's view: recent anomalies, newest first, and how many baselines are warm."""
        warm = sum(1 for b in self._baselines.values() if b.seen >= self.warmup)
        return {"recent": [a.as_dict() for a in reversed(self.recent)], "baselines": len(self._baselines),
                "warm": warm, "interval_s": self.interval}
