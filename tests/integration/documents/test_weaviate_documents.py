"""The document store on a Weaviate server (its own hybrid query), when one is reachable at WEAVIATE_URL.

No Weaviate server can run on the development machine (embedded Weaviate downloads a binary), so
this skips there; sources are unique per run and deleted afterwards, since the class is shared.
"""

from __future__ import annotations

import uuid

import pytest

from app.documents import DocumentStore
from app.documents.weaviate_backend import WeaviateDocuments
from app.embeddings import LocalEmbedder
from app.vectors.weaviate import WeaviateStore
from tests.integration.memory.test_vector_health_and_weaviate import WEAVIATE_URL, _reachable

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not WEAVIATE_URL or not _reachable(WEAVIATE_URL),
                       reason="no Weaviate server: set WEAVIATE_URL to a reachable (loopback) server to run this"),
]


async def test_weaviate_documents_round_trip(local_embedder: LocalEmbedder):
    vectors = WeaviateStore(WEAVIATE_URL)
    store = DocumentStore(WeaviateDocuments(vectors), local_embedder)
    run = uuid.uuid4().hex[:8]
    refunds, deploys = f"test-{run}/refunds.md", f"test-{run}/deploys.md"
    try:
        await store.add_text("# Refunds\n\nMonthly plans are refunded within 30 days.", source=refunds,
                             metadata={"team": "finance"})
        await store.add_text("# Deploys\n\nNo deploys on Fridays after 15:00 UTC.", source=deploys,
                             metadata={"team": "eng"})
        for mode in ("hybrid", "vector", "keyword"):
            hits = await store.search("refunded monthly plans", filters={"source": refunds}, mode=mode)
            assert [h.source for h in hits] == [refunds] and hits[0].section == "Refunds", mode
            assert [h.source for h in await store.search("deploys Fridays", filters={"team": "eng"}, mode=mode)
                    if h.source.startswith(f"test-{run}")] == [deploys], mode
        assert (await store.add_text("# Deploys\n\nDeploys any day.", source=deploys)).status == "replaced"
        assert [h.chunk for h in await store.search("deploys", filters={"source": deploys})] == ["Deploys any day."]
        assert {refunds, deploys} <= {s.source for s in await store.sources()}
    finally:
        for source in (refunds, deploys):
            await store.delete(source)
        vectors.close()
