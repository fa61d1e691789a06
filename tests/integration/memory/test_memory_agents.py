"""Agents with memory through the real gateway and simulators: recall into the prompt, remember the
exchange, profiles and insights in their collections, and a dead store that costs nothing but memory."""

from __future__ import annotations

import asyncio
import json

import pytest
from prometheus_client import REGISTRY

from app.agents.knowledge import search_knowledge
from app.artemis.portkey_unified_factory import ArtemisFactory, TechnicalAgentRole
from app.memory import AgentMemory, BatchingEmbedder
from app.memory.prompting import HEADER
from app.simulators import Fault
from app.sophia.portkey_unified_factory import BusinessAgentRole, SophiaFactory
from app.vectors.qdrant import QdrantStore
from tests import spec_examples
from tests.integration.memory.conftest import closed_port, open_engine


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    """Qdrant local only here (the default); Milvus Lite is covered by test_memory_engines.py."""
    store = open_engine("qdrant-local", tmp_path_factory.mktemp("agents"))
    yield store
    store.close()


def _prompt_sent(simulators, provider: str) -> str:
    return json.dumps(simulators.control.stats()[provider]["last_body"])


async def test_an_agent_recalls_its_last_exchange_in_the_next_prompt(make_manager, simulators, memory):
    factory = ArtemisFactory(make_manager(), memory=memory)
    agent = await factory.create_agent_with_portkey("Reviewer-mem", TechnicalAgentRole.CODE_REVIEWER, "python")
    first = await factory.execute_with_portkey(agent, "Our deploy freeze starts Friday 16:00 UTC; review the "
                                               "release script with that in mind.", max_tokens=50)
    assert first.content and HEADER not in _prompt_sent(simulators, "openai")  # nothing to recall yet
    remembered = await memory.list_memories(agent.id)
    assert len(remembered) == 1 and remembered[0].source == "exchange"
    assert "deploy freeze starts Friday 16:00 UTC" in remembered[0].text and first.content[:20] in remembered[0].text

    await factory.execute_with_portkey(agent, "When does the deploy freeze start?", max_tokens=50)
    body = simulators.control.stats()["openai"]["last_body"]
    system = body["messages"][0]
    assert system["role"] == "system" and system["content"].startswith(agent.system_prompt)
    assert HEADER in system["content"] and "deploy freeze starts Friday 16:00 UTC" in system["content"]
    assert body["messages"][-1]["content"] == "When does the deploy freeze start?"


async def test_a_repeated_task_is_a_cache_hit_that_skips_recall_and_remember(make_manager, simulators, memory,
                                                                            caplog):
    """The cache keys on the caller's request, not on the prompt recall made of it (the spec's
    domain:agent_id:request_hash), so memories do not turn a repeated task into a new request."""
    factory = ArtemisFactory(make_manager(), memory=memory)
    agent = await factory.create_agent_with_portkey("Repeat-mem", TechnicalAgentRole.CODE_REVIEWER, "python")
    prompt = "Review: def area(r): return 3.14 * r * r"
    served_before = simulators.control.stats()["openai"]["total"]
    with caplog.at_level("DEBUG", logger="app.agents.memory"):
        first = await factory.execute_with_portkey(agent, prompt, max_tokens=40)
        again = await factory.execute_with_portkey(agent, prompt, max_tokens=40)
    assert first.cached is None and again.cached == "hit" and again.content == first.content
    assert simulators.control.stats()["openai"]["total"] == served_before + 1, "one provider call for two runs"
    memories = await memory.list_memories(agent.id)
    assert len(memories) == 1 and memories[0].times_seen == 1, "the hit remembered nothing"
    recalls = [r for r in caplog.records if "Repeat-mem" in r.getMessage() and "recalled" in r.getMessage()]
    assert len(recalls) == 1, "the hit skipped recall"
    # Another task of the same agent still recalls the first exchange.
    await factory.execute_with_portkey(agent, "Is 3.14 precise enough there?", max_tokens=40)
    assert HEADER in _prompt_sent(simulators, "openai") and "def area(r)" in _prompt_sent(simulators, "openai")


async def test_debug_logs_show_each_routing_decision_and_never_a_key(make_manager, simulators, memory, caplog):
    """The spec's Debug Mode (logging.basicConfig(level=logging.DEBUG): every logger, HTTP libraries
    included): the chain, each attempt with its status, the fallback, cache misses and hits, memory."""
    keys = {f"{p}_api_key": f"sk-debug-{p}-SECRET0123456789" for p in ("openai", "anthropic", "deepseek")}
    factory = ArtemisFactory(make_manager(**keys), memory=memory)
    agent = await factory.create_agent_with_portkey("Debug-mem", TechnicalAgentRole.CODE_REVIEWER, "python")
    simulators.control.set_fault("openai", Fault(status=503))
    with caplog.at_level("DEBUG"):
        first = await factory.execute_with_portkey(agent, "Review: print(1)", max_tokens=20)
        await factory.execute_with_portkey(agent, "Review: print(1)", max_tokens=20)
    assert first.fallback_used and first.provider == "anthropic"
    text = caplog.text
    assert "chat " in text and ": chain openai/gpt-4o -> anthropic/claude-sonnet-4-5 -> deepseek/deepseek-chat" in text
    assert "served by anthropic/claude-sonnet-4-5, fallback from openai/gpt-4o; attempts: openai/gpt-4o: 503" in text
    assert "cache miss artemis:" in text and "cache hit artemis:" in text and "no provider called" in text
    assert "Debug-mem" in text and "recalled 0 memories" in text and "exchange remembered" in text
    assert any(r.name.startswith(("httpx", "httpcore")) for r in caplog.records), "HTTP libraries logged too"
    for key in keys.values():
        assert key not in text and key[:16] not in text


async def test_recall_is_bounded_in_count_and_characters(make_manager, simulators, memory):
    bounded = AgentMemory(memory.store, memory.embedder, recall_limit=2, recall_chars=300)
    factory = ArtemisFactory(make_manager(), memory=bounded)
    agent = await factory.create_agent_with_portkey("Bounded-mem", TechnicalAgentRole.CODE_REVIEWER, "python")
    for fact in ("The API gateway runs on port 8443.", "The API gateway is written in Go.",
                 "The API gateway logs to Loki.", "The API gateway has a 30 s timeout."):
        await bounded.add(agent.id, fact, domain="artemis", role="code_reviewer")
    await factory.execute_with_portkey(agent, "Tell me about the API gateway.", max_tokens=20)
    system = simulators.control.stats()["openai"]["last_body"]["messages"][0]["content"]
    block = system[len(agent.system_prompt):]
    assert HEADER in block and block.count("\n- ") == 2 and len(block.strip()) <= 300


async def test_profiles_and_insights_go_to_their_collections(make_manager, simulators, memory):
    manager = make_manager()
    artemis, sophia = ArtemisFactory(manager, memory=memory), SophiaFactory(manager, memory=memory)
    auditor = await artemis.create_agent_with_portkey("Auditor-mem", TechnicalAgentRole.SECURITY_AUDITOR,
                                                      "web_applications")
    analyst = await sophia.create_business_agent("Analyst-mem", BusinessAgentRole.MARKET_ANALYST, "fintech")
    insight = await sophia.generate_business_insight(analyst, "Where is embedded finance heading?",
                                                     {"region": "EU"})

    tactical = await search_knowledge(memory, "artemis_tactical", "security auditor for web apps", 3,
                                      {"kind": "agent_profile"})
    assert tactical and tactical[0].id == auditor.id and tactical[0].payload["role"] == "security_auditor"
    profiles = await search_knowledge(memory, "sophia_knowledge", "fintech market analyst", 3,
                                      {"kind": "agent_profile", "agent_id": analyst.id})
    assert [h.id for h in profiles] == [analyst.id]
    insights = await search_knowledge(memory, "sophia_knowledge", "embedded finance", 3,
                                      {"kind": "business_insight", "agent_id": analyst.id})
    assert len(insights) == 1
    stored = insights[0].payload
    assert stored["query"] == "Where is embedded finance heading?" and stored["summary"] == insight.summary
    assert stored["provider"] == insight.execution.provider and stored["key_points"] == insight.key_points


async def test_agents_at_once_all_remember(make_manager, simulators, memory):
    factory = ArtemisFactory(make_manager(), memory=memory)
    agents = [await factory.create_agent_with_portkey(f"crowd-{i}", TechnicalAgentRole.CODE_REVIEWER, "python")
              for i in range(20)]
    results = await asyncio.gather(*(factory.execute_with_portkey(a, f"Task {i}: check module m{i}.",
                                                                  max_tokens=20) for i, a in enumerate(agents)))
    assert all(r.content for r in results)
    assert await asyncio.gather(*(memory.count(a.id) for a in agents)) == [1] * 20


@pytest.mark.filterwarnings("ignore:Failed to obtain server version")
async def test_a_dead_store_costs_memory_not_the_request(make_manager, simulators, local_embedder, caplog):
    dead = AgentMemory(QdrantStore(url=f"http://127.0.0.1:{closed_port()}", timeout=2),
                       BatchingEmbedder(local_embedder))
    before = REGISTRY.get_sample_value("sophia_memory_degraded_total", {"operation": "recall"}) or 0.0
    manager = make_manager()
    artemis, sophia = ArtemisFactory(manager, memory=dead), SophiaFactory(manager, memory=dead)
    try:
        agent = await artemis.create_agent_with_portkey("Dead-mem", TechnicalAgentRole.CODE_REVIEWER, "python")
        with caplog.at_level("WARNING", logger="app.memory"):
            first = await artemis.execute_with_portkey(agent, "Review: print('hi')", max_tokens=20)
            second = await artemis.execute_with_portkey(agent, "Review: print('bye')", max_tokens=20)
        analyst = await sophia.create_business_agent("Dead-analyst", BusinessAgentRole.SALES_STRATEGIST, "retail")
        insight = await sophia.generate_business_insight(analyst, "How do we grow?", {})
        assert first.content and second.content and insight.summary
        assert HEADER not in _prompt_sent(simulators, "openai")
        assert dead.degraded
        warnings = [r for r in caplog.records if r.levelname == "WARNING"]
        assert len(warnings) == 1 and "continuing without it" in warnings[0].getMessage()
        after = REGISTRY.get_sample_value("sophia_memory_degraded_total", {"operation": "recall"})
        assert after >= before + 2
        assert not (await dead.store.health())[0]
    finally:
        dead.store.close()


async def test_an_agent_without_memory_sends_the_prompt_unchanged(make_manager, simulators):
    factory = ArtemisFactory(make_manager(), memory=None)
    agent = await factory.create_agent_with_portkey("No-mem", TechnicalAgentRole.CODE_REVIEWER, "python")
    await factory.execute_with_portkey(agent, "Review: x = 1", max_tokens=20)
    messages = simulators.control.stats()["openai"]["last_body"]["messages"]
    assert messages == [{"role": "system", "content": agent.system_prompt},
                        {"role": "user", "content": "Review: x = 1"}]


def test_the_spec_example_remembers_by_default(user_env, simulators):
    """The spec's Artemis example, run twice as written: the second run is the cached answer; the agent's
    next task carries the first exchange in its prompt."""
    first = spec_examples.run_async_example(spec_examples.ARTEMIS, {})["result"]
    again = spec_examples.run_async_example(spec_examples.ARTEMIS, {})["result"]
    assert first.cached is None and again.cached == "hit" and again.content == first.content
    follow_up = spec_examples.ARTEMIS.replace("Analyze this code for security vulnerabilities",
                                              "Which of those vulnerabilities is the most severe?")
    spec_examples.run_async_example(follow_up, {})
    system = simulators.control.stats()["anthropic"]["last_body"]["system"]
    assert HEADER in json.dumps(system) and "Analyze this code for security vulnerabilities" in json.dumps(system)
    assert (user_env / "qdrant").is_dir()

    health = spec_examples.run_async_example(spec_examples.HEALTH, {"get_portkey_artemis_factory": __import__(
        "app.artemis.portkey_unified_factory", fromlist=["x"]).get_portkey_artemis_factory})["health"]
    stores = health["details"]["vector_databases"]
    assert health["vector_databases"]["qdrant"] is True and "local mode at" in stores["qdrant"]["reason"]
    assert health["vector_databases"]["weaviate"] is False and stores["weaviate"]["reason"] == "not configured"
    assert stores["milvus"]["reason"] == "not configured"
