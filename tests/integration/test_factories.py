"""Artemis and Sophia factories against the sandbox: spec examples, role fallbacks, health, load."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from app.artemis.portkey_unified_factory import ArtemisFactory, TechnicalAgentRole
from app.core.manager import PortkeyManager
from app.core.portkey_config import reset_portkey_manager
from app.core.settings import load_settings
from app.gateway import GatewayProcess
from app.gateway.process import free_port
from app.routing import load_policy
from app.runtime import build_runtime
from app.simulators import Fault
from app.sophia.portkey_unified_factory import BusinessAgentRole, SophiaFactory
from tests import spec_examples

SPEC = Path(__file__).resolve().parents[3] / "shared" / "spec" / "000_e8c24c0ea1fae8a4.txt"


@pytest.fixture
def spec_env(monkeypatch, sandbox_env):
    """The process environment a user would have: only the variables of DESIGN.md section 3."""
    for key, value in sandbox_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MAX_RETRIES", "0")
    monkeypatch.chdir(Path(__file__).parent)  # no .env here
    reset_portkey_manager()
    yield
    reset_portkey_manager()


@pytest.mark.skipif(not SPEC.exists(), reason=f"spec not found at {SPEC}")
def test_examples_are_verbatim_from_the_spec():
    spec = SPEC.read_text()
    for example in (spec_examples.BASIC_COMPLETION, spec_examples.ARTEMIS, spec_examples.SOPHIA,
                    spec_examples.HEALTH):
        assert example.strip() in spec


def test_spec_basic_completion_example(spec_env, simulators):
    namespace: dict = {}
    exec(spec_examples.BASIC_COMPLETION, namespace)
    response = namespace["response"]
    assert response.choices[0].message.content.startswith("[openai/gpt-4-turbo]")
    assert simulators.control.stats()["openai"]["last_body"]["temperature"] == 0.7


def test_spec_artemis_example(spec_env, simulators):
    result = spec_examples.run_async_example(spec_examples.ARTEMIS, {})["result"]
    assert result.provider == "anthropic" and result.model == "claude-sonnet-4-5"  # the role's primary
    assert result.content and not result.fallback_used and result.usage.total_tokens > 0
    assert result.cost_usd is not None and result.cost_usd > 0
    assert simulators.control.stats()["anthropic"]["last_body"]["max_tokens"] == 2000


def test_spec_sophia_example(spec_env, simulators):
    insight = spec_examples.run_async_example(spec_examples.SOPHIA, {})["insight"]
    assert insight.execution.provider == "perplexity"
    assert insight.summary and insight.key_points and insight.recommendations
    assert insight.confidence is not None and 0 <= insight.confidence <= 1
    assert insight.citations  # Perplexity's citations are passed through


def test_spec_health_example(spec_env, simulators):
    namespace = {"get_portkey_artemis_factory": __import__(
        "app.artemis.portkey_unified_factory", fromlist=["x"]).get_portkey_artemis_factory}
    health = spec_examples.run_async_example(spec_examples.HEALTH, namespace)["health"]
    assert health["status"] == "operational"
    assert set(health) >= {"status", "portkey_providers", "vector_databases"}
    assert all(health["portkey_providers"].values()) and len(health["portkey_providers"]) == 7
    assert {"qdrant", "weaviate", "redis"} <= set(health["vector_databases"])


ROLES = [("artemis", r) for r in TechnicalAgentRole] + [("sophia", r) for r in BusinessAgentRole]


@pytest.mark.parametrize(("domain", "role"), ROLES, ids=[f"{d}-{r.value}" for d, r in ROLES])
async def test_each_role_falls_back_when_its_primary_fails(make_manager, simulators, domain, role):
    chain = load_policy(load_settings(_env_file=None)).role(f"{domain}/{role.value}").strategy.targets
    primary, second = chain[0].partition("/")[0], chain[1].partition("/")
    simulators.control.set_fault(primary, Fault(status=503))
    manager = make_manager()
    if domain == "artemis":
        factory = ArtemisFactory(manager)
        agent = await factory.create_agent_with_portkey("Agent", role, "python")
        result = await factory.execute_with_portkey(agent, "Review: def f(x): return eval(x)", max_tokens=100)
    else:
        factory = SophiaFactory(manager)
        agent = await factory.create_business_agent("Agent", role, "retail")
        result = (await factory.generate_business_insight(agent, "How do we grow?", {"region": "EU"})).execution
    assert result.fallback_used and (result.provider, result.model) == (second[0], second[2])
    assert result.attempts[0].provider == primary and result.attempts[0].status == 503


async def test_not_json_answer_still_gives_an_insight(make_manager, simulators):
    factory = SophiaFactory(make_manager())
    agent = await factory.create_business_agent("Plain", BusinessAgentRole.SALES_STRATEGIST, "retail")
    insight = await factory.generate_business_insight(agent, "Say hello", {}, max_tokens=3)  # truncated JSON
    assert insight.summary and insight.confidence is None


async def test_health_degraded_when_a_provider_fails_but_roles_survive(make_manager, simulators):
    simulators.control.set_fault("groq", Fault(status=500))
    health = await ArtemisFactory(make_manager()).health_check(force=True)
    assert health["status"] == "degraded"
    assert health["portkey_providers"]["groq"] is False and health["portkey_providers"]["openai"] is True
    assert "500" in health["details"]["providers"]["groq"]["reason"]
    (reason,) = health["details"]["reasons"]
    assert reason.startswith("groq: ") and "500" in reason


async def test_health_degraded_with_the_reason_when_the_stores_are_down(sandbox_env, simulators):
    """Every provider answers, but all four configured stores are unreachable: not operational."""
    closed = [free_port() for _ in range(4)]
    values = {k.lower(): v for k, v in sandbox_env.items()}
    settings = load_settings(_env_file=None, max_retries=0, memory_enabled=False, **values,
                             redis_url=f"redis://127.0.0.1:{closed[0]}/0", qdrant_url=f"http://127.0.0.1:{closed[1]}",
                             weaviate_url=f"http://127.0.0.1:{closed[2]}", milvus_uri=f"http://127.0.0.1:{closed[3]}")
    runtime = build_runtime(settings)
    try:
        health = await runtime.factory(ArtemisFactory).health_check(force=True)
    finally:
        await runtime.aclose()
    assert health["status"] == "degraded" and all(health["portkey_providers"].values())
    assert health["vector_databases"] == {"redis": False, "qdrant": False, "weaviate": False, "milvus": False,
                                          "documents": False}  # the document store is on Weaviate here
    stores = [r for r in health["details"]["reasons"] if r.startswith("store ")]
    assert [r.split(":", 1)[0] for r in stores] == ["store redis", "store qdrant", "store weaviate", "store milvus",
                                                    "store documents"]


async def test_health_down_when_a_role_has_no_provider_left(make_manager, simulators):
    for provider in ("perplexity", "openai", "anthropic"):
        simulators.control.set_fault(provider, Fault(status=503))
    health = await SophiaFactory(make_manager()).health_check(force=True)
    assert health["status"] == "down"
    assert health["details"]["roles"]["sophia/market_analyst"]["healthy"] is False
    assert "role sophia/market_analyst has no healthy provider (perplexity, openai, anthropic)" in (
        health["details"]["reasons"])


async def test_health_down_when_the_gateway_is_stopped(sandbox_env, simulators):
    values = {k.lower(): v for k, v in sandbox_env.items()}
    with GatewayProcess() as own_gateway:
        values["portkey_base_url"] = own_gateway.url
        factory = ArtemisFactory(PortkeyManager(load_settings(_env_file=None, max_retries=0, **values)))
        assert (await factory.health_check(force=True))["status"] == "operational"
        own_gateway.stop()
        health = await factory.health_check(force=True)
    assert health["status"] == "down" and health["details"]["gateway"]["reachable"] is False


async def test_health_is_cached_briefly(make_manager, simulators):
    factory = ArtemisFactory(make_manager())
    await factory.health_check()
    simulators.control.reset_stats()
    await factory.health_check()
    assert sum(s["total"] for s in simulators.control.stats().values()) == 0


async def test_two_hundred_agents_at_once_share_one_pool(make_manager, simulators):
    manager = make_manager()
    artemis, sophia = ArtemisFactory(manager), SophiaFactory(manager)
    agents = []
    for i in range(100):
        agents.append((artemis, await artemis.create_agent_with_portkey(
            f"tech-{i}", list(TechnicalAgentRole)[i % 4], "python")))
        agents.append((sophia, await sophia.create_business_agent(
            f"biz-{i}", list(BusinessAgentRole)[i % 4], "retail")))

    async def run(factory, agent):
        if isinstance(factory, ArtemisFactory):
            return await factory.execute_with_portkey(agent, f"task for {agent.name}", max_tokens=50)
        return (await factory.generate_business_insight(agent, f"question for {agent.name}", {})).execution

    threads_before = threading.active_count()
    results = await asyncio.gather(*(run(f, a) for f, a in agents))
    assert len(results) == 200 and all(r.content for r in results)
    assert len({r.agent_id for r in results}) == 200
    assert manager.transport.pool_count == 1 and threading.active_count() <= threads_before + 1
