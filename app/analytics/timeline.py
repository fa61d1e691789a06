"""Request rows bucketed over time for the dashboard's charts (pure functions, no database).

Latency is that of provider responses: answers from the response cache are counted apart (exact and
semantic hits), so a cache hit never makes a provider look faster than it is.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from app.analytics.summary import percentile


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def _rate(part: list[int], whole: list[int]) -> list[float | None]:
    return [round(p / w, 4) if w else None for p, w in zip(part, whole, strict=True)]


def build_timeline(rows: Iterable[Mapping[str, Any]], since: float, until: float, bucket_s: int) -> dict[str, Any]:
    """Per bucket: latency per provider (provider responses only), requests, fallbacks, errors, failed
    upstream attempts, cache hit rates (all, exact, semantic), tokens, cost, and each provider's share
    of successful upstream attempts (its health over time); with totals over the whole window."""
    n = max(1, math.ceil((until - since) / bucket_s))
    latency: dict[str, list[list[float]]] = defaultdict(lambda: [[] for _ in range(n)])
    health: dict[str, list[list[int]]] = defaultdict(lambda: [[0, 0] for _ in range(n)])
    requests, fallbacks, errors, exact, semantic, failed, tokens = ([0] * n for _ in range(7))
    cost = [0.0] * n
    answered: list[float] = []
    for row in rows:
        i = min(n - 1, max(0, int((row["ts"] - since) // bucket_s)))
        requests[i] += 1
        if row["error_class"]:
            errors[i] += 1
        if row["fallback_used"]:
            fallbacks[i] += 1
        if row["cache_status"] == "semantic_hit":
            semantic[i] += 1
        elif row["cache_status"]:
            exact[i] += 1
        tokens[i] += int(row["prompt_tokens"] or 0) + int(row["completion_tokens"] or 0)
        cost[i] += float(row["cost_usd"] or 0)
        if row["provider"] and not row["error_class"] and not row["cache_status"]:
            latency[row["provider"]][i].append(float(row["latency_ms"]))
            answered.append(float(row["latency_ms"]))
        for provider, ok in json.loads(row["attempts"] or "[]"):
            health[provider][i][0 if ok else 1] += 1
            failed[i] += 0 if ok else 1
    totals = {"requests": sum(requests), "errors": sum(errors), "fallbacks": sum(fallbacks),
              "cache_hits": sum(exact) + sum(semantic), "exact_hits": sum(exact), "semantic_hits": sum(semantic),
              "failed_attempts": sum(failed), "tokens": sum(tokens), "cost_usd": round(sum(cost), 6),
              "p95_latency_ms": percentile(answered, 95)}
    return {
        "since": since, "until": until, "bucket_s": bucket_s,
        "buckets": [since + i * bucket_s for i in range(n)],
        "latency_ms": {p: [_mean(b) for b in buckets] for p, buckets in sorted(latency.items())},
        "requests": requests, "fallbacks": fallbacks, "errors": errors, "failed_attempts": failed,
        "cache_hit_rate": _rate([e + s for e, s in zip(exact, semantic, strict=True)], requests),
        "exact_hit_rate": _rate(exact, requests), "semantic_hit_rate": _rate(semantic, requests),
        "tokens": tokens, "cost_usd": [round(c, 6) for c in cost],
        "provider_success": {p: [round(ok / (ok + bad), 4) if ok + bad else None for ok, bad in b]
                             for p, b in sorted(health.items())},
        "totals": totals,
    }
