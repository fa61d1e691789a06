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
