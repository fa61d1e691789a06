"""The Mem0-compatible API, run through Mem0's documented examples (the Python quickstart, the add,
search, update and delete pages, and the AsyncMemory page), on embedded Qdrant with the local embedder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.embeddings import LocalEmbedder
from app.memory import AsyncMemory, Memory
from app.vectors.qdrant import QdrantStore

ALEX = [
    {"role": "user", "content": "Hi, I'm Alex. I love basketball and gaming."},
    {"role": "assistant", "content": "Hey Alex! I'll remember your interests."},
]
MOVIES = [
    {"role": "user", "content": "I'm planning to watch a movie tonight. Any recommendations?"},
    {"role": "assistant", "content": "How about thriller movies? They can be quite engaging."},
    {"role": "user", "content": "I'm not a big fan of thriller movies but I love sci-fi movies."},
    {"role": "assistant",
     "content": "Got it! I'll avoid thriller recommendations and suggest sci-fi movies in the future."},
]
ITEM_KEYS = {"id", "memory", "hash", "metadata", "created_at", "updated_at"}


@pytest.fixture
def vectors(tmp_path: Path) -> Iterator[QdrantStore]:
    store = QdrantStore(path=tmp_path / "qdrant")
    yield store
    store.close()


@pytest.fixture
def m(vectors: QdrantStore, local_embedder: LocalEmbedder, tmp_path: Path) -> Iterator[Memory]:
    memory = Memory(store=vectors, embedder=local_embedder, history_db_path=str(tmp_path / "history.db"))
    yield memory
    memory.close()


def test_quickstart_add_and_search(m):
    added = m.add(ALEX, user_id="alex")
    [memory] = added["results"]  # the user's message; the assistant's acknowledgement holds no fact
    assert memory["event"] == "ADD" and memory["memory"] == ALEX[0]["content"]

    results = m.search("What do you know about me?", filters={"user_id": "alex"})
    [hit] = results["results"]
    assert set(hit) == ITEM_KEYS | {"score", "user_id", "role"}
    assert hit["id"] == memory["id"] and hit["user_id"] == "alex" and 0.1 <= hit["score"] <= 1
    assert hit["created_at"].endswith("+00:00") and hit["metadata"] is None
    # Mem0 1.x spelling: ids as arguments, ``limit``.
    assert m.search("Which sports does Alex like?", user_id="alex", limit=3)["results"][0]["id"] == memory["id"]
    assert m.search("What do you know about me?", filters={"user_id": "someone-else"}) == {"results": []}


def test_add_page_metadata_and_raw_messages(m):
    inferred = m.add(MOVIES, user_id="alice", metadata={"category": "movie_recommendations"})
    assert [r["memory"] for r in inferred["results"]] == [MOVIES[0]["content"], MOVIES[2]["content"]]
    raw = m.add(MOVIES, user_id="alice", metadata={"category": "movie_recommendations"}, infer=False)
    assert [(r["role"], r["event"]) for r in raw["results"]] == [("user", "ADD"), ("assistant", "ADD")] * 2
    everything = m.get_all(filters={"user_id": "alice"})["results"]
    assert len(everything) == 6, "infer=False stores duplicates, as Mem0 documents"
    assert all(r["metadata"] == {"category": "movie_recommendations"} and "score" not in r for r in everything)
    assert [r["memory"] for r in everything][:2] == [MOVIES[0]["content"], MOVIES[2]["content"]]
    found = m.search("Does she enjoy science fiction films?",
                     filters={"user_id": "alice", "category": "movie_recommendations"}, top_k=3)["results"]
    assert any("sci-fi" in r["memory"] for r in found) and len(found) == 3
    assert m.search("films", filters={"user_id": "alice", "category": "travel"})["results"] == []


def test_repeats_are_skipped_and_near_duplicates_update(m):
    first = m.add("I prefer tea over coffee in the morning.", user_id="sam")["results"][0]
    assert m.add("I prefer tea over coffee in the morning.", user_id="sam") == {"results": []}
    reworded = m.add("i prefer tea over coffee in the morning", user_id="sam")["results"]
    assert reworded == [{"id": first["id"], "memory": "i prefer tea over coffee in the morning", "event": "UPDATE",
                         "previous_memory": "I prefer tea over coffee in the morning."}]
    other = m.add("I prefer tea over coffee in the morning.", user_id="kim")["results"]
    assert other[0]["event"] == "ADD" and other[0]["id"] != first["id"], "another user's memory is their own"


def test_update_history_and_delete_pages(m):
    [memory] = m.add("Alex likes espresso.", user_id="alex")["results"]
    memory_id = memory["id"]
    assert m.update(memory_id=memory_id, text="Alex now prefers decaf coffee") == {
        "message": "Memory updated successfully!"}
    assert m.update(memory_id, metadata={"category": "preferences"}) == {"message": "Memory updated successfully!"}
    current = m.get(memory_id)
    assert current["memory"] == "Alex now prefers decaf coffee" and current["metadata"] == {"category": "preferences"}
    assert current["created_at"] < current["updated_at"] and current["user_id"] == "alex"
    assert m.search("decaf", filters={"user_id": "alex"})["results"][0]["id"] == memory_id

    assert m.delete(memory_id=memory_id) == {"message": "Memory deleted successfully!"}
    assert m.get(memory_id) is None
    history = m.history(memory_id)
    assert [(h["event"], h["old_memory"], h["new_memory"], h["is_deleted"]) for h in history] == [
        ("ADD", None, "Alex likes espresso.", False),
        ("UPDATE", "Alex likes espresso.", "Alex now prefers decaf coffee", False),
        ("UPDATE", "Alex now prefers decaf coffee", "Alex now prefers decaf coffee", False),
        ("DELETE", "Alex now prefers decaf coffee", None, True)]
    assert set(history[0]) == {"id", "memory_id", "old_memory", "new_memory", "event", "created_at", "updated_at",
                               "is_deleted", "actor_id", "role"}
    with pytest.raises(ValueError, match="not found"):
        m.delete(memory_id)

    m.add("Alice drinks green tea.", user_id="alice")
    m.add("Alice runs on Sundays.", user_id="alice", agent_id="coach")
    assert m.delete_all(user_id="alice") == {"message": "Memories deleted successfully!"}
    assert m.get_all(user_id="alice") == {"results": []}


def test_scopes_and_errors(m):
    m.add([{"role": "user", "content": "I prefer vegetarian food"}], user_id="alice", agent_id="diet-assistant",
          run_id="consultation-001")
    m.add("Alice is allergic to peanuts.", user_id="alice", run_id="consultation-002")
    m.add([{"role": "assistant", "content": "I always answer with a recipe."}], agent_id="diet-assistant")
    assert len(m.get_all(filters={"user_id": "alice"})["results"]) == 2
    agent = m.get_all(filters={"user_id": "alice", "agent_id": "diet-assistant"})["results"]
    assert [r["memory"] for r in agent] == ["I prefer vegetarian food"]
    assert agent[0]["run_id"] == "consultation-001" and agent[0]["agent_id"] == "diet-assistant"
    session = m.get_all(filters={"user_id": "alice", "run_id": "consultation-002"})["results"]
    assert [r["memory"] for r in session] == ["Alice is allergic to peanuts."]
    assert [r["memory"] for r in m.get_all(agent_id="diet-assistant")["results"]] == [
        "I prefer vegetarian food", "I always answer with a recipe."], "agent-scoped adds keep the agent's messages"
    assert len(m.get_all(filters={"user_id": "alice"}, top_k=1)["results"]) == 1

    for call in (lambda: m.search("food"), lambda: m.search("", filters={"user_id": "alice"}),
                 lambda: m.add("x"), lambda: m.get_all(filters={"user_id": "al ice"}),
                 lambda: m.search("food", filters={"user_id": "alice", "categories": {"contains": "diet"}}),
                 lambda: m.delete_all(), lambda: m.update("00000000-0000-4000-8000-000000000000", text="x"),
                 lambda: m.get("not-a-uuid"), lambda: m.add("x", user_id="a", memory_type="procedural_memory")):
        with pytest.raises(ValueError):  # Mem0 raises ValueError for bad input; ours is InvalidRequestError(ValueError)
            call()

    m.reset()
    assert m.get_all(filters={"user_id": "alice"}) == {"results": []}
    assert m.add("After the reset.", user_id="alice")["results"][0]["event"] == "ADD"


async def test_async_memory_core_operations(vectors, local_embedder, tmp_path):
    memory = AsyncMemory(store=vectors, embedder=local_embedder, history_db_path=str(tmp_path / "h.db"))
    result = await memory.add(messages=[{"role": "user", "content": "I'm travelling to SF"},
                                        {"role": "assistant", "content": "That's great to hear!"}], user_id="alice")
    [added] = result["results"]
    results = await memory.search(query="Where am I travelling?", filters={"user_id": "alice"})
    assert results["results"][0]["memory"] == "I'm travelling to SF"
    assert len((await memory.get_all(filters={"user_id": "alice"}))["results"]) == 1
    assert (await memory.get(memory_id=added["id"]))["memory"] == "I'm travelling to SF"
    await memory.update(memory_id=added["id"], text="I'm travelling to Seattle")
    assert (await memory.search("Seattle trip", filters={"user_id": "alice"}))["results"][0]["id"] == added["id"]
    await memory.delete(memory_id=added["id"])
    await memory.delete_all(user_id="alice")
    assert [h["event"] for h in await memory.history(memory_id=added["id"])] == ["ADD", "UPDATE", "DELETE"]
    memory.close()


def test_from_config_takes_the_history_path_and_collection(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("QDRANT_PATH", str(tmp_path / "qdrant"))
    from app.core.settings import get_settings
    from app.vectors.registry import close_stores

    get_settings.cache_clear()
    try:
        m = Memory.from_config({"history_db_path": str(tmp_path / "hist.db"), "llm": {"provider": "openai"},
                                "vector_store": {"provider": "qdrant", "config": {"collection_name": "mem0_custom"}}})
        [added] = m.add("Config works.", user_id="cfg")["results"]
        assert m.history(added["id"])[0]["event"] == "ADD" and (tmp_path / "hist.db").exists()
        assert m._async.collection == "mem0_custom"
        assert "ignoring llm" in caplog.text
        m.close()
    finally:
        get_settings.cache_clear()
        close_stores()
