"""Agents grounded on documents, on the real gateway, the provider simulators and embedded Qdrant with the
local model: a Sophia insight cites the chunk it was given (next to Perplexity's web citations) and the
provider received that chunk; roles that are not grounded send their prompt unchanged; a dead store
costs the documents, never the answer; and the spec's own example is grounded by default."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from app.agents.grounding import DocumentGrounding
from app.artemis.portkey_unified_factory import ArtemisFactory, TechnicalAgentRole
from app.documents import DocumentStore, get_document_store
from app.documents.qdrant_backend import QdrantDocuments
from app.embeddings import LocalEmbedder
from app.sophia.portkey_unified_factory import BusinessAgentRole, SophiaFactory
from app.vectors.qdrant import QdrantStore
from bench.retrieval import CORPUS
from tests import spec_examples
from tests.integration.memory.conftest import closed_port

pytestmark = pytest.mark.integration

REFUND_QUESTION = "Is an annual plan refunded pro rata after the first month?"


@pytest.fixture(scope="module")
async def handbook(tmp_path_factory: pytest.TempPathFactory, local_embedder: LocalEmbedder,
                   ) -> AsyncIterator[DocumentStore]:
    """Three documents of the shipped corpus in a store of their own."""
    vectors = QdrantStore(path=tmp_path_factory.mktemp("grounding") / "qdrant")
    store = DocumentStore(QdrantDocuments(vectors), local_embedder)
    for name in ("refund-policy.md", "pricing-tiers.md", "webhook-retries.md"):
        await store.add_file(CORPUS / name, source=f"handbook/{name}")
    yield store
    vectors.close()


def _last_body(simulators, provider: str) -> dict:
    return simulators.control.stats()[provider]["last_body"]


async def test_a_sophia_insight_cites_the_chunk_the_provider_was_given(make_manager, simulators, handbook):
    sophia = SophiaFactory(make_manager(), grounding=DocumentGrounding(handbook))
    analyst = await sophia.create_business_agent("Grounded-analyst", BusinessAgentRole.MARKET_ANALYST, "saas")
    insight = await sophia.generate_business_insight(analyst, REFUND_QUESTION, {"segment": "smb"})

    [best] = await handbook.search(REFUND_QUESTION, limit=1)
    assert best.source == "handbook/refund-policy.md" and best.section == "Refund policy > Annual plans"
    documents = insight.execution.citations
    assert documents[0] == best.citation and all("#" in c for c in documents)
    web = [c for c in insight.citations if c.startswith("https://example.com/simulated/")]
    assert len(web) == 2 and insight.execution.provider == "perplexity"  # Perplexity's own citations stay
    assert insight.citations[:len(web) + len(documents)] == [*web, *documents]

    system = _last_body(simulators, "perplexity")["messages"][0]["content"]
    assert system.startswith(analyst.system_prompt)
    assert f"[{best.citation}] (Refund policy > Annual plans)\n{best.chunk}" in system
    assert "refunded pro rata for the whole months that remain" in system


async def test_a_role_that_is_not_grounded_sends_its_prompt_unchanged(make_manager, simulators, handbook):
    artemis = ArtemisFactory(make_manager(), grounding=DocumentGrounding(handbook))
    reviewer = await artemis.create_agent_with_portkey("Ungrounded-reviewer", TechnicalAgentRole.CODE_REVIEWER)
    result = await artemis.execute_with_portkey(reviewer, f"Review the refund job. {REFUND_QUESTION}", max_tokens=20)
    assert result.citations == []
    assert _last_body(simulators, "openai")["messages"] == [
        {"role": "system", "content": reviewer.system_prompt},
        {"role": "user", "content": f"Review the refund job. {REFUND_QUESTION}"}]


@pytest.mark.filterwarnings("ignore:Failed to obtain server version")
async def test_a_dead_document_store_costs_the_documents_not_the_insight(make_manager, simulators, local_embedder,
                                                                         caplog):
    vectors = QdrantStore(url=f"http://127.0.0.1:{closed_port()}", timeout=2)
    grounding = DocumentGrounding(DocumentStore(QdrantDocuments(vectors), local_embedder))
    sophia = SophiaFactory(make_manager(), grounding=grounding)
    try:
        agent = await sophia.create_business_agent("Dead-docs", BusinessAgentRole.SALES_STRATEGIST, "retail")
        with caplog.at_level("WARNING", logger="app.documents"):
            first = await sophia.generate_business_insight(agent, "How do we grow in retail?")
            second = await sophia.generate_business_insight(agent, "Which channel first?")
        assert first.summary and second.summary and first.citations == second.citations == []
        assert grounding.outage.down
        assert len([r for r in caplog.records if r.levelname == "WARNING"]) == 1
        assert "Excerpts from" not in json.dumps(_last_body(simulators, "openai"))
    finally:
        vectors.close()


def test_the_spec_sophia_example_is_grounded_by_default(user_env, simulators):
    """The spec's Sophia example, as written, after a document was added through ``get_document_store()``."""
    survey = ("# AI adoption survey 2026\n\nAcross 400 enterprise software firms, the key trends in AI adoption "
              "are agentic workflows in customer support and retrieval over internal documents.")
    added = asyncio.run(get_document_store().add_text(survey, source="research/ai-adoption-2026.md"))
    assert added.status == "added"

    namespace = spec_examples.run_async_example(spec_examples.SOPHIA, {})
    insight = namespace["insight"]
    assert "research/ai-adoption-2026.md#0" in insight.citations
    system = _last_body(simulators, "perplexity")["messages"][0]["content"]
    assert "[research/ai-adoption-2026.md#0] (AI adoption survey 2026)" in system and "agentic workflows" in system

    health = spec_examples.run_async_example(spec_examples.HEALTH, {"get_portkey_artemis_factory": __import__(
        "app.artemis.portkey_unified_factory", fromlist=["x"]).get_portkey_artemis_factory})["health"]
    assert health["vector_databases"]["documents"] is True
    assert "1 source(s), 1 chunk(s)" in health["details"]["vector_databases"]["documents"]["reason"]
