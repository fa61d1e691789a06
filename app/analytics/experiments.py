"""A/B experiments: the variants of a loadbalance route compared side by side, with significance tests.

Per variant: requests, success rate, fallback rate, p50/p95 latency, tokens and cost per call, and
the mean feedback score with its 95% confidence interval (Student's t). Every other variant is
compared with the first (the control) on:

- latency: Mann-Whitney U (two-sided): latencies are skewed and heavy-tailed, so ranks, not means;
- cost per call and feedback score: Welch's t-test (two-sided): the question is whether the *means*
  differ (what a call costs on average, how good answers are on average), without assuming equal
  variances; with samples of dozens or more the means are near normal whatever the shape;
- success rate: Fisher's exact test on the 2x2 table of successes and failures.

With several variants the p-values of each metric are adjusted by Holm's method (the family-wise
error stays at 5%); a difference is called significant when its adjusted p is below 0.05. Cache hits
are counted but left out of latency, tokens and cost: no provider was called. The tests come from
scipy (imported when a comparison is made: the service's start does not pay for it).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

ALPHA = 0.05
METRICS = ("latency", "cost", "score", "success")
_TESTS = {"latency": "Mann-Whitney U", "cost": "Welch's t", "score": "Welch's t", "success": "Fisher's exact"}


@dataclass(frozen=True, slots=True)
class Interval:
    """A mean and its 95% confidence interval."""

    mean: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class VariantStats:
    """One variant's numbers over the period."""

    variant: str
    requests: int
    successes: int
    fallbacks: int
    cache_hits: int
    success_rate: float | None
    fallback_rate: float | None
    """Among successful calls: the share served by a fallback target."""
    p50_ms: float | None
    p95_ms: float | None
    tokens_per_call: float | None
    cost_per_call: float | None
    """US dollars, over calls with a known price."""
    feedback: int
    score: Interval | None


@dataclass(frozen=True, slots=True)
class Comparison:
    """One variant against the control on one metric."""

    variant: str
    metric: str
    test: str
    p_value: float | None
    """Holm-adjusted; None when either side has too little data."""
    significant: bool
    difference: float | None
    """Variant minus control: ms (median latency), USD per call, score points, success rate."""


@dataclass(frozen=True, slots=True)
class Experiment:
    """An experiment's report: each variant, and each variant against the control."""

    name: str
    control: str | None
    variants: list[VariantStats]
    comparisons: list[Comparison] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _interval(values: Sequence[float]) -> Interval | None:
    if not values:
        return None
    mean = sum(values) / len(values)
    if len(values) < 2:
        return Interval(mean, mean, mean)
    from scipy import stats

    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    half = float(stats.t.ppf(0.975, len(values) - 1)) * sd / math.sqrt(len(values))
    return Interval(mean, mean - half, mean + half)


@dataclass
class _Sample:
    rows: list[Mapping[str, Any]] = field(default_factory=list)

    @property
    def served(self) -> list[Mapping[str, Any]]:
        """Successful calls that reached a provider (not cache hits)."""
        return [r for r in self.rows if not r["error_class"] and not r["cache_status"]]

    def latencies(self) -> list[float]:
        return [float(r["latency_ms"]) for r in self.served]

    def costs(self) -> list[float]:
        return [float(r["cost_usd"]) for r in self.served if r["cost_usd"] is not None]

    def scores(self) -> list[float]:
        return [float(r["score"]) for r in self.rows if r.get("score") is not None]

    def successes(self) -> int:
        return sum(1 for r in self.rows if not r["error_class"])


def _stats(name: str, sample: _Sample) -> VariantStats:
    rows, served = sample.rows, sample.served
    successes = sample.successes()
    fallbacks = sum(1 for r in rows if r["fallback_used"] and not r["error_class"])
    latencies = sample.latencies()
    tokens = [int(r["prompt_tokens"] or 0) + int(r["completion_tokens"] or 0) for r in served]
    scores = sample.scores()
    return VariantStats(
        variant=name, requests=len(rows), successes=successes, fallbacks=fallbacks,
        cache_hits=sum(1 for r in rows if r["cache_status"]),
        success_rate=successes / len(rows) if rows else None,
        fallback_rate=fallbacks / successes if successes else None,
        p50_ms=_percentile(latencies, 0.5), p95_ms=_percentile(latencies, 0.95),
        tokens_per_call=_mean(tokens), cost_per_call=_mean(sample.costs()),
        feedback=len(scores), score=_interval(scores),
    )


def _raw_test(metric: str, control: _Sample, other: _Sample) -> tuple[float | None, float | None]:
    """(p-value, difference) of one metric, before adjustment; p None when it cannot be tested."""
    from scipy import stats

    if metric == "success":
        a_ok, b_ok = control.successes(), other.successes()
        a_bad, b_bad = len(control.rows) - a_ok, len(other.rows) - b_ok
        if not control.rows or not other.rows:
            return None, None
        difference = b_ok / len(other.rows) - a_ok / len(control.rows)
        return float(stats.fisher_exact([[a_ok, a_bad], [b_ok, b_bad]]).pvalue), difference
    a, b = {"latency": (control.latencies, other.latencies), "cost": (control.costs, other.costs),
            "score": (control.scores, other.scores)}[metric]
    xs, ys = a(), b()
    if len(xs) < 2 or len(ys) < 2:
        return None, None
    if metric == "latency":
        difference = (_percentile(ys, 0.5) or 0.0) - (_percentile(xs, 0.5) or 0.0)
        return float(stats.mannwhitneyu(xs, ys, alternative="two-sided").pvalue), difference
    difference = sum(ys) / len(ys) - sum(xs) / len(xs)
    if len(set(xs)) == 1 and len(set(ys)) == 1:  # no variance: the means either equal or differ for sure
        return (1.0 if difference == 0 else 0.0), difference
    with warnings.catch_warnings():
        # scipy warns of lost precision when a sample is nearly constant; its p-value is still the best there is
        warnings.simplefilter("ignore", RuntimeWarning)
        p = stats.ttest_ind(xs, ys, equal_var=False).pvalue
    return (None if math.isnan(p) else float(p)), difference


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values (None stays None; the others are adjusted among themselves)."""
    present = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(present):
        running = max(running, min(1.0, (len(present) - rank) * p))
        adjusted[i] = running
    return adjusted


def compare(name: str, rows: Iterable[Mapping[str, Any]], order: Sequence[str] = ()) -> Experiment:
    """The report of experiment ``name`` from its request rows (with ``variant`` and ``score``).

    ``order`` lists the variants as the routing file does (the first is the control); variants seen
    only in the rows follow, most requested first. Rows without a variant are left out.
    """
    samples: dict[str, _Sample] = {}
    for row in rows:
        if row.get("variant"):
            samples.setdefault(str(row["variant"]), _Sample()).rows.append(row)
    names = [v for v in order if v in samples] + sorted(
        (v for v in samples if v not in order), key=lambda v: -len(samples[v].rows))
    variants = [_stats(v, samples[v]) for v in names]
    if len(names) < 2:
        return Experiment(name, names[0] if names else None, variants)
    control, others = names[0], names[1:]
    comparisons: list[Comparison] = []
    for metric in METRICS:
        raw = [_raw_test(metric, samples[control], samples[v]) for v in others]
        for v, (_, difference), adjusted in zip(others, raw, holm([p for p, _ in raw]), strict=True):
            comparisons.append(Comparison(v, metric, _TESTS[metric], adjusted,
                                          adjusted is not None and adjusted < ALPHA, difference))
    return Experiment(name, control, variants, comparisons)


async def experiment_report(store: Any, name: str, since: float, order: Sequence[str] = ()) -> Experiment:
    """The report of experiment ``name`` (a route, or a role ``domain/role``) over the calls since ``since``,
    read from ``store`` (an ``AnalyticsStore``); the comparison runs off the event loop."""
    import asyncio

    if "/" in name:
        domain, _, role = name.partition("/")
        rows = await store.experiment_rows(since, domain=domain, role=role)
    else:
        rows = await store.experiment_rows(since, route=name)
    return await asyncio.to_thread(compare, name, rows, order)
