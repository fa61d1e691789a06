"""Analytics without a server: rows from call records, chart bucketing, URLs, and the SQLite store."""

from __future__ import annotations

import json
import time

from app.analytics import AnalyticsStore, database_url, record_from_call
from app.analytics.summary import empty_provider, percentile, provider_table, role_table
from app.analytics.timeline import build_timeline
from app.core.errors import AllProvidersFailedError
from app.core.observation import CallRecord
from app.core.results import Attempt, RoutingInfo, Usage
from app.core.settings import load_settings


def _served(fallback: bool = False, cached: str | None = None) -> CallRecord:
    attempts = [Attempt(provider="openai", model="gpt-4o", status=503)] if fallback else []
    attempts.append(Attempt(provider="anthropic", model="claude-sonnet-4-5", status=200))
    routing = RoutingInfo(provider="anthropic", model="claude-sonnet-4-5", fallback_used=fallback, attempts=attempts,
                          latency_ms=12.5, usage=Usage(prompt_tokens=1000, completion_tokens=500, total_tokens=1500),
                          trace_id="t1", served_index=1 if fallback else 0, cached=cached)
    return CallRecord(kind="chat", trace_id="t1", chain=("openai/gpt-4o", "anthropic/claude-sonnet-4-5"),
                      latency_ms=12.5, routing=routing,
                      metadata={"domain": "artemis", "agent_id": "a1", "role": "code_reviewer"})


def test_record_from_a_served_call():
    row = record_from_call(_served(fallback=True), now=100.0)
    assert (row.ts, row.provider, row.model, row.served_index, row.fallback_used) == (
        100.0, "anthropic", "claude-sonnet-4-5", 1, True)
    assert (row.domain, row.agent_id, row.role, row.requested_provider) == ("artemis", "a1", "code_reviewer", "openai")
    assert row.cost_usd and row.cost_usd > 0 and row.error_class is None
    assert json.loads(row.attempts) == [["openai", False], ["anthropic", True]]
    assert record_from_call(_served(cached="hit")).cost_usd == 0.0


def test_record_from_a_failed_call():
    error = AllProvidersFailedError([Attempt(provider="groq", model="m", status=500)], status=500, trace_id="t")
    row = record_from_call(CallRecord(kind="chat", trace_id="t", chain=("groq/m",), latency_ms=3, error=error))
    assert (row.provider, row.error_class, row.requested_provider, row.cost_usd) == (
        None, "AllProvidersFailedError", "groq", None)
    assert json.loads(row.attempts) == [["groq", False]]


def test_timeline_buckets():
    rows = [record_from_call(_served(), now=1005.0).as_row(), record_from_call(_served(True), now=1015.0).as_row(),
            record_from_call(_served(cached="hit"), now=1061.0).as_row(),
            record_from_call(_served(cached="semantic_hit"), now=1062.0).as_row()]
    t = build_timeline(rows, since=1000.0, until=1120.0, bucket_s=60)
    assert t["requests"] == [2, 2] and t["fallbacks"] == [1, 0] and t["cache_hit_rate"] == [0.0, 1.0]
    assert t["exact_hit_rate"] == [0.0, 0.5] and t["semantic_hit_rate"] == [0.0, 0.5]
    assert t["latency_ms"]["anthropic"] == [12.5, None], "cache hits are not provider latency"
    assert t["provider_success"] == {"anthropic": [1.0, 1.0], "openai": [0.0, None]}
    assert t["failed_attempts"] == [1, 0]
    totals = t["totals"]
    assert (totals["requests"], totals["exact_hits"], totals["semantic_hits"], totals["tokens"]) == (4, 1, 1, 6000)
    assert totals["p95_latency_ms"] == 12.5


def test_provider_and_role_tables_keep_cache_hits_and_hidden_failures_apart():
    failed = AllProvidersFailedError([Attempt(provider="openai", model="gpt-4o", status=500),
                                      Attempt(provider="anthropic", model="claude-sonnet-4-5", status=500)],
                                     status=500, trace_id="t")
    rows = [record_from_call(r).as_row() for r in (
        _served(), _served(fallback=True), _served(cached="hit"),
        CallRecord(kind="chat", trace_id="f", chain=("openai/gpt-4o",), latency_ms=9, error=failed,
                   metadata={"domain": "artemis", "agent_id": "a1", "role": "code_reviewer"}))]
    table = {p["name"]: p for p in provider_table(rows)}
    assert (table["anthropic"]["answers"], table["anthropic"]["cache_hits"], table["anthropic"]["fallbacks"]) == (2, 1, 1)
    assert (table["openai"]["answers"], table["openai"]["failed_attempts"], table["openai"]["attempts"],
            table["openai"]["errors"]) == (0, 2, 2, 1), "a failure a fallback hid still counts for openai"
    assert table["anthropic"]["failed_attempts"] == 1 and table["anthropic"]["p95_latency_ms"] == 12.5
    (role,) = role_table(rows)
    assert role == {"role": "artemis/code_reviewer", "calls": 4, "answers": 2, "fallbacks": 1, "cache_hits": 1,
                    "errors": 1, "fallback_rate": 0.5}
    assert empty_provider("groq")["answers"] == 0 and percentile([], 95) is None
    assert percentile([float(i) for i in range(1, 101)], 95) == 95.0


def test_database_urls_get_async_drivers(monkeypatch):
    monkeypatch.delenv("SOPHIA_DATA_DIR", raising=False)

    def url(value):
        return database_url(load_settings(_env_file=None, database_url=value))

    assert url("postgresql://u:p@h:5432/db") == "postgresql+asyncpg://u:p@h:5432/db"
    assert url("postgres://h/db") == "postgresql+asyncpg://h/db"
    assert url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert database_url(load_settings(_env_file=None)) == "sqlite+aiosqlite:///.sophia/analytics.db"
    assert database_url(load_settings(_env_file=None, sophia_data_dir="/srv/x")) == "sqlite+aiosqlite:////srv/x/analytics.db"


async def test_sqlite_store_writes_in_the_background_and_aggregates(tmp_path):
    store = await AnalyticsStore(f"sqlite+aiosqlite:///{tmp_path}/sub/a.db").start()
    try:
        store.observe(_served())
        store.observe(_served(fallback=True))
        store.observe(CallRecord(kind="chat", trace_id="h", chain=("groq/m",), latency_ms=1,
                                 metadata={"purpose": "health"}))
        await store.flush()
        assert await store.count() == 2
        (stats,) = await store.provider_stats(time.time() - 60)
        assert (stats.provider, stats.requests, stats.fallbacks, stats.prompt_tokens) == ("anthropic", 2, 1, 2000)
        assert [r["trace_id"] for r in await store.rows_since(0)] == ["t1", "t1"]
    finally:
        await store.aclose()
    store.observe(_served())  # after close: dropped, not raised


async def test_a_malformed_database_url_names_the_variable_not_the_password():
    import pytest

    from app.core.errors import ConfigurationError

    with pytest.raises(ConfigurationError) as bad:
        await AnalyticsStore("mysql+nosuchdriver://u:hunter2@h/db").start()
    assert bad.value.env_vars == ("DATABASE_URL",) and "hunter2" not in str(bad.value)
