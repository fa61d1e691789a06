"""Memory pieces without engines: prompt budget, batching, ids, degrading on a failing store."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from app.agents.base import Agent
from app.agents.memory import recall_into, remember_exchange
from app.embeddings.base import Embedder
from app.memory import AgentMemory, BatchingEmbedder, MemoryRecord, memory_id
from app.memory.guard import guarded
from app.memory.prompting import HEADER, memory_block, with_memories
from app.vectors.base import VectorStore

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def mem(text: str) -> MemoryRecord:
    return MemoryRecord(id="x", agent_id="a", domain="artemis", role="r", text=text, source="manual",
                  created_at=NOW, updated_at=NOW)


class CountingEmbedder(Embedder):
    name, dimension = "counting", 2

    def __init__(self) -> None:
        self.calls: list[int] = []

    async def embed(self, texts):
        self.calls.append(len(texts))
        await asyncio.sleep(0)
        return [[float(len(t)), 1.0] for t in texts]


class BrokenStore(VectorStore):
    """A store whose every call fails, as an unreachable server's would."""

    name = kind = "broken"
    location = "nowhere"

    def _open(self):
        raise ConnectionError("connection refused")

    _ensure = _upsert = _search = _scroll = _get = _delete = _drop = _count = _health = _open


def test_memory_ids_are_stable_and_ignore_case_and_spacing():
    assert memory_id("a", "Deploys on  Friday") == memory_id("a", "deploys on friday")
    assert memory_id("a", "x") != memory_id("b", "x")
    assert uuid.UUID(memory_id("a", "x")).version == 5  # not hash(): the same in every process


def test_the_memory_block_respects_its_budget():
    memories = [mem("first fact " * 3), mem("second  fact\nwith a newline"), mem("third " * 50)]
    block = memory_block(memories, 200)
    assert block.startswith(HEADER) and len(block) <= 200
    assert "- second fact with a newline" in block and "third" not in block
    assert memory_block(memories, 10) == ""
    cut = memory_block([mem("long " * 200)], 300)
    assert len(cut) <= 300 and cut.endswith("…")


def test_memories_join_the_system_prompt_or_become_one():
    messages = [{"role": "system", "content": "You review."}, {"role": "user", "content": "hi"}]
    out = with_memories(messages, [mem("fact")], 500)
    assert out[0]["content"].startswith("You review.\n\n" + HEADER) and out[1] == messages[1]
    assert messages[0]["content"] == "You review."  # the caller's list is not changed
    bare = with_memories([{"role": "user", "content": "hi"}], [mem("fact")], 500)
    assert bare[0]["role"] == "system" and bare[1]["role"] == "user"
    assert with_memories(messages, [], 500) == messages


async def test_concurrent_embeds_share_one_model_call():
    inner = CountingEmbedder()
    batching = BatchingEmbedder(inner)
    results = await asyncio.gather(*(batching.embed([f"t{i}", "xx"]) for i in range(50)))
    assert results[7] == [[2.0, 1.0], [2.0, 1.0]] and results[10][0] == [3.0, 1.0]
    assert sum(inner.calls) == 100 and len(inner.calls) <= 2


async def test_embed_failures_reach_every_caller_of_the_batch():
    class Failing(CountingEmbedder):
        async def embed(self, texts):
            raise RuntimeError("model gone")

    batching = BatchingEmbedder(Failing())
    outcomes = await asyncio.gather(*(batching.embed(["x"]) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(o, RuntimeError) for o in outcomes)


async def test_a_failing_store_degrades_recall_and_remembering(caplog):
    store = BrokenStore()
    memory = AgentMemory(store, CountingEmbedder())
    agent = Agent(id="a", name="n", domain="artemis", role="code_reviewer", focus="python", system_prompt="S")
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "q"}]
    try:
        with caplog.at_level("WARNING"):
            assert await recall_into(memory, agent, messages, "q") == messages
            await remember_exchange(memory, agent, "q", "a")
        assert memory.degraded and len([r for r in caplog.records if r.levelname == "WARNING"]) == 1
        assert "connection refused" in caplog.records[0].getMessage()
        ok, reason = await store.health()
        assert not ok and "connection refused" in reason
    finally:
        store.close()


async def test_a_slow_store_is_given_up_on(monkeypatch):
    class Slow(CountingEmbedder):
        async def embed(self, texts):
            await asyncio.Event().wait()  # never answers

    memory = AgentMemory(BrokenStore(), Slow(), timeout=0.05)
    memory._warm = True  # the embedder counts as loaded, so the per-call timeout applies
    agent = Agent(id="a", name="n", domain="artemis", role="code_reviewer", focus="python", system_prompt="S")
    try:
        assert await recall_into(memory, agent, [{"role": "user", "content": "q"}], "q") == [
            {"role": "user", "content": "q"}]
        assert memory.degraded
    finally:
        memory.store.close()


def test_closed_stores_refuse_work():
    store = BrokenStore()
    store.close()
    store.close()  # idempotent
    ok, reason = asyncio.run(store.health())
    assert not ok and "closed" in reason


async def test_a_failed_store_is_left_alone_for_a_while_then_retried():
    class CountingBroken(BrokenStore):
        opened = 0

        def _open(self):
            CountingBroken.opened += 1
            raise ConnectionError("connection refused")

        _ensure = _search = _open

    now = [0.0]
    memory = AgentMemory(CountingBroken(), CountingEmbedder(), clock=lambda: now[0])
    agent = Agent(id="a", name="n", domain="artemis", role="code_reviewer", focus="python", system_prompt="S")
    try:
        for _ in range(3):
            await recall_into(memory, agent, [{"role": "user", "content": "q"}], "q")
        assert CountingBroken.opened == 1 and memory.degraded
        now[0] += memory.outage.pause  # the pause is over
        await recall_into(memory, agent, [{"role": "user", "content": "q"}], "q")
        assert CountingBroken.opened == 2
    finally:
        memory.store.close()


async def test_a_cancellation_that_races_completion_is_not_swallowed():
    """Python 3.11's asyncio.wait_for returns the result when a cancellation arrives as the awaited work
    finishes: a cancelled agent call went on, and a service shutting down waited for its cancelled
    background task forever. Memory's waits use asyncio.timeout, which lets the cancellation through."""
    finished = asyncio.Event()

    async def work() -> str:
        await finished.wait()
        return "done"

    memory = AgentMemory(BrokenStore(), CountingEmbedder(), timeout=5.0)
    memory._warm = True  # the embedder counts as loaded
    try:
        task = asyncio.ensure_future(guarded(memory, "recall", work, "default"))
        while not finished._waiters:  # the task now waits inside the work
            await asyncio.sleep(0)
        finished.set()
        task.cancel()  # in the same loop iteration as the work's completion
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        memory.store.close()
