"""Document grounding without engines: which roles are grounded, the prompt block and its budget,
and retrieval that degrades (a failing store, a slow one, a paused one) instead of failing."""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY

from app.agents.grounding import HEADER, DocumentGrounding, documents_block, ground_into
from app.core.settings import load_settings
from app.documents.models import DocumentHit
from app.documents.qdrant_backend import QdrantDocuments
from app.documents.store import DocumentStore
from app.routing import load_policy
from tests.unit.test_memory import BrokenStore, CountingEmbedder


def hit(source: str, index: int, text: str, section: str = "") -> DocumentHit:
    return DocumentHit(source=source, chunk=text, score=1.0, index=index, chunks=9, section=section, page=None,
                       title=None, format="markdown")


class FakeStore:
    """Answers searches with ``hits``, or waits forever once ``hang`` is set; counts the searches."""

    def __init__(self, hits: list[DocumentHit]) -> None:
        self.hits = hits
        self.hang = False
        self.searches = 0

    async def search(self, query: str, limit: int = 5) -> list[DocumentHit]:
        self.searches += 1
        if self.hang:
            await asyncio.Event().wait()  # never answers
        return self.hits[:limit]


def degraded_count() -> float:
    return REGISTRY.get_sample_value("sophia_documents_degraded_total") or 0.0


def test_sophia_roles_are_grounded_and_artemis_roles_are_not():
    policy = load_policy(load_settings(_env_file=None))  # grounded: true in the built-in routing file
    assert {key for key, role in policy.roles.items() if role.grounded} == {
        key for key in policy.roles if key.startswith("sophia/")}
    assert policy.role("sophia/MARKET_ANALYST").grounded and not policy.role("artemis/code_reviewer").grounded


def test_the_block_labels_each_chunk_by_its_citation_within_the_budget():
    hits = [hit("handbook/refunds.md", 2, "Refunds take 30 days.", "Refunds > Eligibility"),
            hit("big.md", 0, "x" * 500), hit("notes.txt", 4, "Deploys freeze on Fridays.")]
    block, cited = documents_block(hits, 400)
    assert block.startswith(HEADER.format(example="handbook/refunds.md#2")) and len(block) <= 400
    assert "[handbook/refunds.md#2] (Refunds > Eligibility)\nRefunds take 30 days." in block
    assert "[notes.txt#4]\nDeploys freeze on Fridays." in block
    assert cited == ["handbook/refunds.md#2", "notes.txt#4"]  # the chunk that did not fit is not cited
    assert documents_block(hits, 100) == ("", [])
    assert documents_block([], 4000) == ("", [])


async def test_chunks_join_the_system_prompt_and_the_caller_keeps_its_messages():
    store = FakeStore([hit("a.md", 1, "Alpha.")])
    grounding = DocumentGrounding(store)  # type: ignore[arg-type]
    messages = [{"role": "system", "content": "You analyse."}, {"role": "user", "content": "Q?"}]
    out, cited = await ground_into(grounding, messages, "Q?")
    assert out[0]["content"].startswith("You analyse.\n\n") and "[a.md#1]\nAlpha." in out[0]["content"]
    assert out[1] == messages[1] and messages[0]["content"] == "You analyse." and cited == ["a.md#1"]
    off = DocumentGrounding(store, top_k=0)  # type: ignore[arg-type]
    assert await ground_into(off, messages, "Q?") == (messages, [])
    assert store.searches == 1  # top_k=0 never asks the store


async def test_a_failing_store_costs_the_documents_not_the_call(caplog):
    vectors = BrokenStore()
    grounding = DocumentGrounding(DocumentStore(QdrantDocuments(vectors), CountingEmbedder()))
    before = degraded_count()
    try:
        with caplog.at_level("WARNING", logger="app.documents"):
            assert await grounding.retrieve("what is the refund window?") == []
            assert await grounding.retrieve("and the deploy freeze?") == []  # paused: the store is not asked
        assert grounding.outage.down and degraded_count() == before + 2
        [warning] = [r for r in caplog.records if r.levelname == "WARNING"]
        assert "document retrieval is unavailable" in warning.getMessage()
        assert "connection refused" in warning.getMessage()
    finally:
        vectors.close()


async def test_a_slow_store_is_given_up_on_then_retried_after_the_pause():
    now = [0.0]
    store = FakeStore([hit("a.md", 0, "Alpha.")])
    grounding = DocumentGrounding(store, timeout=0.05, clock=lambda: now[0])  # type: ignore[arg-type]
    assert [h.source for h in await grounding.retrieve("q")] == ["a.md"]  # warm: the short timeout applies now
    store.hang = True
    assert await grounding.retrieve("q") == [] and grounding.outage.down
    assert await grounding.retrieve("q") == [] and store.searches == 2  # left alone while paused
    store.hang = False
    now[0] += grounding.outage.pause
    assert len(await grounding.retrieve("q")) == 1 and not grounding.outage.down
