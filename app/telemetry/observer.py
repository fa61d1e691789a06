"""Turns each CallRecord into metric updates; cheap enough to run inline on every call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.core.observation import CallRecord
from app.core.pricing import cache_tokens
from app.telemetry import metrics
from app.telemetry.cost import call_cost

_SOURCES = {None: "provider", "hit": "cache", "semantic_hit": "semantic_cache"}


class TelemetryObserver:
    """The manager observer that updates the Prometheus metrics: requests, latency, tokens, cost..."""

    def __call__(self, record: CallRecord) -> None:
        """Count one finished call; a cache hit counts as a request of source ``cache`` (or
        ``semantic_cache``), apart from provider responses, and adds no tokens or cost."""
        routing = record.routing
        attempts = routing.attempts if routing else getattr(record.error, "attempts", ())
        for attempt in attempts:
            metrics.ATTEMPTS.labels(attempt.provider, "ok" if attempt.ok else "failed").inc()
            metrics.PROVIDER_UP.labels(attempt.provider).set(1 if attempt.ok else 0)
        if routing is None:
            requested = record.chain[0].split("/", 1) if record.chain else ["", ""]
            outcome = type(record.error).__name__ if record.error else "unknown"
            metrics.REQUESTS.labels(record.kind, requested[0], requested[-1], outcome, "provider").inc()
            return
        provider, model = routing.provider, routing.model
        source = _SOURCES[routing.cached]
        metrics.REQUESTS.labels(record.kind, provider, model, "ok", source).inc()
        metrics.LATENCY.labels(record.kind, provider, model, source).observe(record.latency_ms / 1000)
        if routing.fallback_used:
            primary = record.chain[0].split("/", 1)[0] if record.chain else ""
            metrics.FALLBACKS.labels(primary, provider).inc()
        usage = routing.usage
        if routing.cached:
            return  # a cached answer costs nothing and used no provider tokens
        metrics.TOKENS.labels(provider, model, "prompt").inc(usage.prompt_tokens)
        metrics.TOKENS.labels(provider, model, "completion").inc(usage.completion_tokens)
        cost = call_cost(provider, model, usage.prompt_tokens, usage.completion_tokens, *cache_tokens(usage))
        if cost:
            metrics.COST.labels(provider, model).inc(cost)


def record_health(report: Mapping[str, Any]) -> None:
    """Provider availability from a health report (``portkey_providers``: name -> bool)."""
    for provider, ok in report.get("portkey_providers", {}).items():
        metrics.PROVIDER_UP.labels(provider).set(1 if ok else 0)
