"""Vector-store, memory and document-retrieval metrics (default registry): "vector database performance"."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

VECTOR_UPSERT_SECONDS = Histogram(
    "sophia_vector_upsert_seconds", "Latency of vector-store upserts", ["store"], buckets=_BUCKETS)
VECTOR_SEARCH_SECONDS = Histogram(
    "sophia_vector_search_seconds", "Latency of vector-store similarity searches", ["store"], buckets=_BUCKETS)
VECTOR_ERRORS = Counter(
    "sophia_vector_errors_total", "Vector-store operations that failed", ["store", "operation"])
MEMORY_DEGRADED = Counter(
    "sophia_memory_degraded_total",
    "Agent-memory steps skipped because the store or the embedder failed (the request went on)",
    ["operation"])
DOCUMENTS_DEGRADED = Counter(
    "sophia_documents_degraded_total",
    "Document retrievals of grounded agents skipped because the store or the embedder failed (the request "
    "went on)")

LATENCY = {"upsert": VECTOR_UPSERT_SECONDS, "search": VECTOR_SEARCH_SECONDS}
