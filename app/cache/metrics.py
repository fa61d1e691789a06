"""Cache metrics, in the default prometheus registry (exported by the service at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HITS = Counter("sophia_cache_hits_total", "Exact cache hits", ["domain", "kind"])
MISSES = Counter("sophia_cache_misses_total", "Cache lookups that found nothing", ["domain", "kind"])
SEMANTIC_HITS = Counter("sophia_cache_semantic_hits_total", "Semantic cache hits", ["domain"])
BACKEND_ERRORS = Counter("sophia_cache_backend_errors_total",
                         "Cache operations that failed (the request went on uncached)", ["backend", "operation"])
LOOKUP_SECONDS = Histogram(
    "sophia_cache_lookup_seconds", "Time to look a request up in the cache", ["backend", "kind"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0),
)
