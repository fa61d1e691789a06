"""Request rows summed up per provider and per role, for the dashboard's tables (pure functions).

Per provider, what it did and what was done in its name are kept apart: answers it gave, answers
the response cache gave in its name, upstream attempts that failed (every retry and every failure a
fallback hid), and calls that failed outright when it was first in the chain.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


def percentile(values: list[float], pct: float) -> float | None:
    """The ``pct``-th percentile (nearest rank) of ``values``, rounded to 0.01; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)], 2)


@dataclass
class _Provider:
    answers: int = 0
    cache_hits: int = 0
    attempts: int = 0
    failed_attempts: int = 0
    errors: int = 0
    fallbacks: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    latencies: list[float] = field(default_factory=list)


def provider_table(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One entry per provider, busiest first: ``answers`` (provider responses), ``cache_hits`` (answers
    served from the cache in its name), ``attempts``/``failed_attempts`` (upstream, retries included),
    ``errors`` (calls that failed with it first in the chain), ``fallbacks`` (answers it gave as a
    fallback), average and p95 latency of its answers, tokens and cost."""
    per: dict[str, _Provider] = defaultdict(_Provider)
    for row in rows:
        for provider, ok in json.loads(row["attempts"] or "[]"):
            per[provider].attempts += 1
            per[provider].failed_attempts += 0 if ok else 1
        if row["error_class"]:
            per[row["requested_provider"]].errors += 1
            continue
        tally = per[row["provider"]]
        if row["cache_status"]:
            tally.cache_hits += 1
            continue
        tally.answers += 1
        tally.fallbacks += 1 if row["fallback_used"] else 0
        tally.latencies.append(float(row["latency_ms"]))
        tally.tokens += int(row["prompt_tokens"] or 0) + int(row["completion_tokens"] or 0)
        tally.cost_usd += float(row["cost_usd"] or 0)
    return sorted((_provider_entry(name, t) for name, t in per.items()),
                  key=lambda p: (-(p["answers"] + p["cache_hits"] + p["errors"]), p["name"]))


def empty_provider(name: str) -> dict[str, Any]:
    """A provider's entry with no traffic (so a configured provider is listed even when idle)."""
    return _provider_entry(name, _Provider())


def _provider_entry(name: str, t: _Provider) -> dict[str, Any]:
    return {"name": name, "answers": t.answers, "cache_hits": t.cache_hits, "attempts": t.attempts,
            "failed_attempts": t.failed_attempts, "errors": t.errors, "fallbacks": t.fallbacks,
            "avg_latency_ms": round(sum(t.latencies) / len(t.latencies), 2) if t.latencies else None,
            "p95_latency_ms": percentile(t.latencies, 95), "tokens": t.tokens, "cost_usd": round(t.cost_usd, 8)}


def role_table(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One entry per agent role (``domain/role``) that made calls: calls, answers from providers, how
    many of those a fallback served (``fallback_rate``), cache hits and failed calls."""
    per: dict[str, dict[str, int]] = defaultdict(lambda: {"calls": 0, "answers": 0, "fallbacks": 0,
                                                          "cache_hits": 0, "errors": 0})
    for row in rows:
        if not row["role"]:
            continue
        tally = per[f"{row['domain'] or '-'}/{row['role']}"]
        tally["calls"] += 1
        if row["error_class"]:
            tally["errors"] += 1
        elif row["cache_status"]:
            tally["cache_hits"] += 1
        else:
            tally["answers"] += 1
            tally["fallbacks"] += 1 if row["fallback_used"] else 0
    return [{"role": role, **t, "fallback_rate": round(t["fallbacks"] / t["answers"], 4) if t["answers"] else None}
            for role, t in sorted(per.items())]
