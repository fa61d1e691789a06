"""Request analytics written from real calls (gateway + simulators) into SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from app.analytics import AnalyticsStore
from app.analytics import metrics as analytics_metrics
from app.artemis.portkey_unified_factory import ArtemisFactory, TechnicalAgentRole
from app.core.errors import ProviderError
from app.core.manager import PortkeyManager
from app.simulators import Fault
from tests.e2e.conftest import make_settings
from tests.support import need_service

pytestmark = pytest.mark.e2e
PG_URLS = ("postgresql+asyncpg://root@127.0.0.1:5432/test", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


async def _postgres_url() -> str:
    import asyncpg

    reason = "no connection"
    for url in PG_URLS:
        try:
            conn = await asyncpg.connect(url.replace("+asyncpg", ""), timeout=3)
        except (OSError, asyncpg.PostgresError) as exc:
            reason = type(exc).__name__
            continue
        await conn.close()
        return url
    need_service("PostgreSQL at 127.0.0.1:5432 (database test)", reason)
    raise AssertionError("unreachable")


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request, tmp_path) -> AsyncIterator[AnalyticsStore]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/analytics.db"
    else:
        url = await _postgres_url()
    store = await AnalyticsStore(url, table_prefix=f"t{uuid.uuid4().hex[:10]}_").start()
    try:
        yield store
    finally:
        await store.drop_table()
        await store.aclose()


async def test_one_row_per_request_with_routing_tokens_cost_and_errors(store, e2e_env, simulators, tmp_path):
    manager = PortkeyManager(make_settings(e2e_env, memory_enabled=False, sophia_data_dir=str(tmp_path)))
    manager.observers.add(store.observe)
    try:
        factory = ArtemisFactory(manager, memory=None)
        agent = await factory.create_agent_with_portkey("Reviewer", TechnicalAgentRole.CODE_REVIEWER, "python")
        tag = uuid.uuid4().hex
        await factory.execute_with_portkey(agent, f"Review x = 1 ({tag})", max_tokens=50)
        simulators.control.set_fault("openai", Fault(status=503))
        await factory.execute_with_portkey(agent, f"Review y = 2 ({tag})", max_tokens=50)
        simulators.control.set_fault("groq", Fault(status=500))
        with pytest.raises(ProviderError):
            await manager.acreate_completion(provider="groq", fallbacks=[], cache=False,
                                             messages=[{"role": "user", "content": f"fail {tag}"}])
        await manager.acreate_completion(provider="mistral", messages=[{"role": "user", "content": "probe"}],
                                         metadata={"purpose": "health"}, cache=False)
        await store.flush()
    finally:
        await manager.aclose()
    rows = await store.rows_since(time.time() - 60)
    assert len(rows) == 3  # the health probe is not traffic
    first, fallback, failed = rows
    assert (first["provider"], first["domain"], first["role"], first["agent_id"]) == (
        "openai", "artemis", "code_reviewer", agent.id)
    assert first["prompt_tokens"] > 0 and first["cost_usd"] > 0 and not first["fallback_used"]
    assert fallback["provider"] == "anthropic" and fallback["fallback_used"] and fallback["served_index"] == 1
    assert json.loads(fallback["attempts"]) == [["openai", False], ["anthropic", True]]
    assert failed["provider"] is None and failed["error_class"] == "ProviderServerError"
    assert failed["requested_provider"] == "groq"
    stats = {s.provider: s for s in await store.provider_stats(time.time() - 60)}
    assert stats["groq"].errors == 1 and stats["anthropic"].fallbacks == 1
    assert stats["openai"].requests == 1 and stats["openai"].cost_usd > 0


async def test_a_failing_database_degrades_analytics_only(e2e_env, tmp_path):
    store = await AnalyticsStore("postgresql+asyncpg://root@127.0.0.1:1/test").start()  # nothing listens there
    manager = PortkeyManager(make_settings(e2e_env, memory_enabled=False, sophia_data_dir=str(tmp_path)))
    manager.observers.add(store.observe)
    before = analytics_metrics.DROPPED.labels("database_error")._value.get()
    try:
        answer = await manager.acreate_completion(provider="groq", messages=[{"role": "user", "content": "still up"}],
                                                  cache=False)
        assert answer.content
        await asyncio.wait_for(store.flush(), 15)
    finally:
        await manager.aclose()
        await store.aclose()
    assert analytics_metrics.DROPPED.labels("database_error")._value.get() == before + 1


async def test_a_long_trace_id_does_not_lose_the_batch(store, e2e_env, simulators, tmp_path):
    # PostgreSQL rejects a whole INSERT for one value wider than its column; values are cut to fit.
    manager = PortkeyManager(make_settings(e2e_env, memory_enabled=False, sophia_data_dir=str(tmp_path)))
    manager.observers.add(store.observe)
    try:
        for trace_id in ("t" * 300, "short-trace"):
            await manager.acreate_completion(provider="groq", fallbacks=[], cache=False, trace_id=trace_id,
                                             messages=[{"role": "user", "content": f"hi {uuid.uuid4().hex}"}])
        await store.flush()
    finally:
        await manager.aclose()
    traces = [row["trace_id"] for row in await store.rows_since(time.time() - 60)]
    assert traces == ["t" * 64, "short-trace"]


async def test_route_variant_complexity_and_feedback_are_recorded(store, e2e_env, tmp_path):
    from app.analytics.experiments import experiment_report
    from tests.unit.test_routing_file import EXAMPLE

    routing = tmp_path / "routing.yaml"
    routing.write_text(EXAMPLE)
    manager = PortkeyManager(make_settings(e2e_env, memory_enabled=False, sophia_data_dir=str(tmp_path),
                                           sophia_routing_file=str(routing), cache_ttl=0))
    manager.observers.add(store.observe)
    manager.feedback_observers.add(store.observe_feedback)
    try:
        answers = [await manager.acreate_completion(route="support_ab", metadata={"user_id": f"u{i}"},
                                                    messages=[{"role": "user", "content": f"hi {i}"}])
                   for i in range(12)]
        for answer in answers:
            manager.feedback(answer.routing.trace_id, 0.2)
        manager.feedback(answers[0].routing.trace_id, 0.9, "changed my mind")  # the latest score counts
        await manager.acreate_completion(route="smart", messages=[{"role": "user", "content": "What is 2+2?"}])
        await store.flush()
    finally:
        await manager.aclose()
    rows = await store.rows_since(time.time() - 60)
    assert [(r["route"], r["variant"]) for r in rows[:12]] == [("support_ab", a.routing.variant) for a in answers]
    assert (rows[-1]["route"], rows[-1]["variant"], rows[-1]["complexity"]) == ("smart", None, "simple")
    report = await experiment_report(store, "support_ab", time.time() - 60, ("openai/gpt-4o-mini",))
    assert sum(v.requests for v in report.variants) == 12 and sum(v.feedback for v in report.variants) == 12
    scores = {r["trace_id"]: r["score"] for r in await store.experiment_rows(time.time() - 60, route="support_ab")}
    assert scores[answers[0].routing.trace_id] == 0.9 and scores[answers[1].routing.trace_id] == 0.2


def _previous_version_table(metadata, prefix):
    """The requests table as the version before routing policies created it."""
    from sqlalchemy import Boolean, Column, Float, Integer, String, Table

    return Table(
        f"{prefix}requests", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True), Column("ts", Float, nullable=False, index=True),
        Column("kind", String(16), nullable=False), Column("trace_id", String(64), nullable=False),
        Column("domain", String(32)), Column("agent_id", String(64)), Column("role", String(64)),
        Column("requested", String(200), nullable=False), Column("requested_provider", String(32), nullable=False),
        Column("provider", String(32)), Column("model", String(200)), Column("served_index", Integer),
        Column("fallback_used", Boolean, nullable=False), Column("latency_ms", Float, nullable=False),
        Column("prompt_tokens", Integer, nullable=False), Column("completion_tokens", Integer, nullable=False),
        Column("cost_usd", Float), Column("cache_status", String(16)), Column("error_class", String(64)),
        Column("attempts", String(2000), nullable=False),
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_table_of_the_previous_version_gains_the_new_columns(backend, tmp_path, e2e_env):
    from sqlalchemy import MetaData, insert
    from sqlalchemy.ext.asyncio import create_async_engine

    url = f"sqlite+aiosqlite:///{tmp_path}/old.db" if backend == "sqlite" else await _postgres_url()
    prefix = f"m{uuid.uuid4().hex[:10]}_"
    metadata = MetaData()
    old = _previous_version_table(metadata, prefix)
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(insert(old), {"ts": time.time(), "kind": "chat", "trace_id": "old-trace",
                                         "requested": "groq/x", "requested_provider": "groq", "provider": "groq",
                                         "fallback_used": False, "latency_ms": 5.0, "prompt_tokens": 1,
                                         "completion_tokens": 2, "attempts": "[]"})
    await engine.dispose()
    store = await AnalyticsStore(url, table_prefix=prefix).start()
    manager = PortkeyManager(make_settings(e2e_env, memory_enabled=False, sophia_data_dir=str(tmp_path)))
    manager.observers.add(store.observe)
    try:
        await manager.acreate_completion(provider="groq", cache=False, messages=[{"role": "user", "content": "new"}])
        await store.flush()
        rows = await store.rows_since(time.time() - 60)
        assert (rows[0]["trace_id"], rows[0]["route"]) == ("old-trace", None)  # old rows read as NULL
        assert len(rows) == 2 and rows[1]["provider"] == "groq"
        await store.aclose()
        store = await AnalyticsStore(url, table_prefix=prefix).start()  # a second start finds nothing to add
        assert await store.count() == 2
    finally:
        await manager.aclose()
        await store.drop_table()
        await store.aclose()


async def test_workflow_runs_are_recorded_and_found_with_their_calls(store, e2e_env, simulators, tmp_path):
    from app.sophia.portkey_unified_factory import SophiaFactory
    from app.workflows import run_workflow
    from app.workflows.recording import recorder

    manager = PortkeyManager(make_settings(e2e_env, memory_enabled=False, sophia_data_dir=str(tmp_path)))
    manager.observers.add(store.observe)
    started = time.time()
    try:
        result = await run_workflow("security_review", {"code": f"eval(input())  # {uuid.uuid4()}"},
                                    artemis=ArtemisFactory(manager), sophia=SophiaFactory(manager),
                                    on_event=recorder(store))
    finally:
        await manager.aclose()
    await store.flush()
    [run] = await store.recent_runs(started - 1)
    assert run["trace_id"] == result.trace_id and run["status"] == "completed" and run["partial"] is False
    assert [s["name"] for s in run["steps"]] == ["scan", "audit", "performance", "report"]
    assert run["steps"][0]["provider"] == "groq" and run["cost_usd"] == pytest.approx(result.cost_usd)
    assert run["prompt_tokens"] + run["completion_tokens"] == result.usage.total_tokens
    assert (await store.run(result.trace_id))["workflow"] == "security_review"
    calls = await store.calls_of(result.trace_id)
    assert len(calls) == 4 and calls[-1]["role"] == "code_reviewer"  # the report ends last
    assert await store.run("0" * 32) is None
