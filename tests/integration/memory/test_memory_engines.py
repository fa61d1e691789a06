"""Agent memory on the real embedded engines (Qdrant local, Milvus Lite) with the real local embedder."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from app.core.errors import InvalidRequestError
from app.core.vector_db_config import COLLECTIONS, ensure_collections
from app.memory import DEFAULT_DEDUP_THRESHOLD, AgentMemory
from app.vectors import Point, VectorStoreError
from tests.integration.memory.conftest import ENGINES, open_engine

PREFERS_PYTHON = "The user prefers Python for scripting."


def _sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_threshold_separates_rewordings_from_changed_facts(local_embedder):
    reworded, changed = "the user prefers python for scripting", "The user prefers Go for scripting."
    base, same, other = await local_embedder.embed([PREFERS_PYTHON, reworded, changed])

    def cosine(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(base, same) >= DEFAULT_DEDUP_THRESHOLD > cosine(base, other)


async def test_near_duplicates_merge_and_changed_facts_do_not(memory, agent_ids):
    agent = agent_ids[0]
    first = await memory.add(agent, PREFERS_PYTHON, domain="artemis", role="code_reviewer")
    again = await memory.add(agent, "the user prefers python for scripting", domain="artemis", role="code_reviewer")
    other = await memory.add(agent, "The user prefers Go for scripting.", domain="artemis", role="code_reviewer")
    assert not first.merged and again.merged and not other.merged
    assert again.memory.id == first.memory.id and again.memory.times_seen == 2
    assert again.memory.created_at == first.memory.created_at < again.memory.updated_at
    assert await memory.count(agent) == 2
    # The same memory for another agent is that agent's own.
    assert not (await memory.add(agent_ids[1], PREFERS_PYTHON, domain="artemis", role="code_reviewer")).merged


async def test_search_filters_by_agent_domain_and_role(memory, agent_ids):
    artemis_a, artemis_b, sophia = agent_ids
    await memory.add(artemis_a, "The payment service leaks file handles under load.", domain="artemis",
                     role="performance_optimizer")
    await memory.add(artemis_b, "Payment service endpoints lack CSRF protection.", domain="artemis",
                     role="security_auditor")
    await memory.add(sophia, "Payment providers in Europe consolidate quickly.", domain="sophia",
                     role="market_analyst")
    mine = await memory.search(artemis_a, "payment service problems", limit=5)
    assert [m.agent_id for m in mine] == [artemis_a] and mine[0].score > 0.3
    assert mine[0].domain == "artemis" and mine[0].role == "performance_optimizer" and mine[0].source == "manual"
    domain = await memory.search_domain("artemis", "payment service problems", limit=10)
    assert {artemis_a, artemis_b} <= {m.agent_id for m in domain} and sophia not in {m.agent_id for m in domain}
    auditors = await memory.search_domain("artemis", "payment", limit=10, role="security_auditor")
    assert {m.agent_id for m in auditors} == {artemis_b}
    assert [m.agent_id for m in await memory.search_domain("sophia", "payment", limit=10)
            if m.agent_id in agent_ids] == [sophia]


async def test_most_relevant_memory_comes_first(memory, agent_ids):
    agent = agent_ids[0]
    for text in ("Deploys happen on Fridays at 16:00 UTC.", "The database is PostgreSQL 16.",
                 "Code reviews need two approvals."):
        await memory.add(agent, text, domain="artemis", role="code_reviewer")
    found = await memory.search(agent, "When do we deploy?", limit=3)
    assert found[0].text.startswith("Deploys happen") and found[0].score > found[1].score


async def test_list_and_forget(memory, agent_ids):
    agent, other = agent_ids[:2]
    kept = await memory.add(agent, "Tests run with pytest.", domain="artemis", role="code_reviewer")
    dropped = await memory.add(agent, "The linter is ruff.", domain="artemis", role="code_reviewer")
    theirs = await memory.add(other, "Their own secret note.", domain="artemis", role="code_reviewer")
    assert [m.id for m in await memory.list_memories(agent)] == [dropped.memory.id, kept.memory.id]
    assert await memory.forget(agent, theirs.memory.id) is False  # not this agent's memory
    assert await memory.forget(agent, dropped.memory.id) is True
    assert await memory.forget(agent, dropped.memory.id) is False
    assert [m.text for m in await memory.list_memories(agent)] == ["Tests run with pytest."]
    assert await memory.forget_all(agent) == 1 and await memory.list_memories(agent) == []
    assert await memory.count(other) == 1
    with pytest.raises(InvalidRequestError):
        await memory.forget(agent, "not-a-uuid")


async def test_bad_input_is_rejected_before_the_store(memory, agent_ids):
    for call in (memory.add(agent_ids[0], "  ", domain="artemis", role="r"),
                 memory.add(agent_ids[0], "x" * 5000, domain="artemis", role="r"),
                 memory.search(agent_ids[0], "q", limit=0)):
        with pytest.raises(InvalidRequestError):
            await call


async def test_concurrent_agents_write_at_once(memory):
    agents = [f"concurrent-{i}" for i in range(20)]
    facts = ["uses Python 3.11", "deploys with Docker", "tracks bugs in Jira"]
    results = await asyncio.gather(*(
        memory.add(agent, f"Agent {agent} {fact}.", domain="artemis", role="code_reviewer")
        for agent in agents for fact in facts))
    assert len(results) == 60 and not any(r.merged for r in results)
    counts = await asyncio.gather(*(memory.count(agent) for agent in agents))
    assert counts == [3] * 20
    # Concurrent near-duplicates of one agent still merge into one memory.
    same = await asyncio.gather(*(memory.add("dup-agent", f"Remember: the build uses Bazel{'!' * i}",
                                             domain="artemis", role="code_reviewer") for i in range(5)))
    assert sum(not r.merged for r in same) == 1 and await memory.count("dup-agent") == 1


async def test_collections_are_created_with_the_embedder_dimension(engine, local_embedder):
    assert await ensure_collections(engine, local_embedder.dimension) == list(COLLECTIONS)
    assert set(COLLECTIONS) == {"artemis_tactical", "sophia_knowledge", "agent_memory"}
    with pytest.raises(VectorStoreError, match="384-d"):
        await engine.ensure_collection("agent_memory", 1536)
    with pytest.raises(InvalidRequestError):
        await engine.upsert("agent_memory", [Point("6f1c3c52-3d0b-4c55-9a55-2a1f3f1d8e01", [0.1] * 3)])
    await engine.ensure_collection("scratch", 3)
    await engine.drop_collection("scratch")
    assert await engine.ensure_collection("scratch", 5) == 5  # gone, so re-created at another size
    await engine.drop_collection("scratch")


async def test_latencies_are_exported_per_store(memory, agent_ids):
    kind = memory.store.kind
    before = (_sample("sophia_vector_upsert_seconds_count", {"store": kind}),
              _sample("sophia_vector_search_seconds_count", {"store": kind}))
    await memory.add(agent_ids[0], "Metrics are scraped every 15 seconds.", domain="artemis", role="code_reviewer")
    await memory.search(agent_ids[0], "scrape interval")
    after = (_sample("sophia_vector_upsert_seconds_count", {"store": kind}),
             _sample("sophia_vector_search_seconds_count", {"store": kind}))
    assert after[0] == before[0] + 1 and after[1] >= before[1] + 2  # the dedup lookup is a search too


async def test_health_reports_the_engine(engine):
    ok, reason = await engine.health()
    assert ok and engine.location in reason


@pytest.mark.parametrize("kind", ENGINES)
async def test_memories_survive_reopening_the_store(kind, tmp_path, local_embedder):
    first = open_engine(kind, tmp_path)
    await AgentMemory(first, local_embedder).add("agent-r", "The staging database is called orion.",
                                                  domain="artemis", role="code_reviewer")
    first.close()
    second = open_engine(kind, tmp_path)
    try:
        found = await AgentMemory(second, local_embedder).search("agent-r", "name of the staging database")
        assert [m.text for m in found] == ["The staging database is called orion."]
    finally:
        second.close()


async def test_what_one_process_learned_the_next_recalls(tmp_path, local_embedder):
    text = "Incident reviews happen every Tuesday."
    vector = await local_embedder.embed_one(text)
    # The writer gets the vector from here so that it need not load the model (seconds) itself.
    code = textwrap.dedent(f"""
        import asyncio, json, sys
        from app.embeddings.base import Embedder
        from app.memory import AgentMemory
        from app.vectors.qdrant import QdrantStore

        class Known(Embedder):
            name, dimension = "known", {len(vector)}

            async def embed(self, texts):
                return [json.loads(sys.argv[1]) for _ in texts]

        async def main():
            store = QdrantStore(path={str(tmp_path / "qdrant")!r})
            await AgentMemory(store, Known()).add("agent-p", {text!r}, domain="sophia", role="customer_success")
            store.close()

        asyncio.run(main())
    """)
    root = Path(__file__).resolve().parents[3]
    writer = await asyncio.create_subprocess_exec(sys.executable, "-c", code, json.dumps(vector), cwd=root,
                                                  stderr=asyncio.subprocess.PIPE)
    _, stderr = await asyncio.wait_for(writer.communicate(), 120)
    assert writer.returncode == 0, stderr.decode()[-2000:]
    store = open_engine("qdrant-local", tmp_path)
    try:
        found = await AgentMemory(store, local_embedder).search("agent-p", "when are incident reviews?")
        assert found and found[0].text == text and found[0].domain == "sophia"
    finally:
        store.close()


async def test_a_second_client_on_a_locked_folder_fails_clearly(tmp_path, local_embedder):
    owner = open_engine("qdrant-local", tmp_path)
    intruder = open_engine("qdrant-local", tmp_path)
    try:
        assert (await owner.health())[0]
        ok, reason = await intruder.health()
        assert not ok and "one process per folder or a Qdrant server" in reason
    finally:
        intruder.close()
        owner.close()
