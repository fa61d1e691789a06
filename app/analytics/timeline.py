"""Request rows bucketed over time for the dashboard's charts (pure functions, no database)."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def build_timeline(rows: Iterable[Mapping[str, Any]], since: float, until: float, bucket_s: int) -> dict[str, Any]:
    """Per bucket: latency per provider, requests, fallbacks, errors, cache hit rate, tokens, cost,
    and each provider's share of successful upstream attempts (its health over time)."""
    n = max(1, math.ceil((until - since) / bucket_s))
    latency: dict[str, list[list[float]]] = defaultdict(lambda: [[] for _ in range(n)])
    health: dict[str, list[list[int]]] = defaultdict(lambda: [[0, 0] for _ in range(n)])
    requests, fallbacks, errors, hits, tokens = ([0] * n for _ in range(5))
    cost = [0.0] * n
    totals = {"requests": 0, "errors": 0, "fallbacks": 0, "cache_hits": 0, "tokens": 0, "cost_usd": 0.0}
    for row in rows:
        i = min(n - 1, max(0, int((row["ts"] - since) // bucket_s)))
        requests[i] += 1
        if row["error_class"]:
            errors[i] += 1
        if row["fallback_used"]:
            fallbacks[i] += 1
        if row["cache_status"]:
            hits[i] += 1
        used = int(row["prompt_tokens"] or 0) + int(row["completion_tokens"] or 0)
        tokens[i] += used
        cost[i] += float(row["cost_usd"] or 0)
        if row["provider"] and not row["error_class"]:
            latency[row["provider"]][i].append(float(row["latency_ms"]))
        for provider, ok in json.loads(row["attempts"] or "[]"):
            health[provider][i][0 if ok else 1] += 1
    totals.update(requests=sum(requests), errors=sum(errors), fallbacks=sum(fallbacks), cache_hits=sum(hits),
                  tokens=sum(tokens), cost_usd=round(sum(cost), 6))
    return {
        "since": since, "until": until, "bucket_s": bucket_s,
        "buckets": [since + i * bucket_s for i in range(n)],
        "latency_ms": {p: [_mean(b) for b in buckets] for p, buckets in sorted(latency.items())},
        "requests": requests, "fallbacks": fallbacks, "errors": errors,
        "cache_hit_rate": [round(h / r, 4) if r else None for h, r in zip(hits, requests, strict=True)],
        "tokens": tokens, "cost_usd": [round(c, 6) for c in cost],
        "provider_success": {p: [round(ok / (ok + bad), 4) if ok + bad else None for ok, bad in b]
                             for p, b in sorted(health.items())},
        "totals": totals,
    }
