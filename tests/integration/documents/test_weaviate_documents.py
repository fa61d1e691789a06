"""The document store on Weaviate (its own hybrid query).

No Weaviate server can run on the development machine (embedded Weaviate downloads a binary), so the
round trip skips unless WEAVIATE_URL points at a reachable server (sources are unique per run and
deleted afterwards, since the class is shared). What runs everywhere: every call the backend makes,
made on the installed client (``weaviate-client``) that is simply not connected. The client checks
its arguments before it looks for a connection, so a call that gets as far as "the client is closed"
was accepted, and a renamed argument or a wrong type fails here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from app.documents import DocumentStore
from app.documents.backends import DOCUMENTS
from app.documents.weaviate_backend import WeaviateDocuments
from app.embeddings import LocalEmbedder
from app.vectors.base import VectorStoreError
from app.vectors.weaviate import WeaviateStore
from tests.integration.memory.test_vector_health_and_weaviate import WEAVIATE_URL, _reachable
from tests.support import need_service

pytestmark = pytest.mark.integration
CLOSED = "WeaviateClient` is closed"


@pytest.fixture
def offline() -> Iterator[WeaviateStore]:
    """A Weaviate store whose client is the installed one, built but never connected."""
    import weaviate
    from weaviate.connect import ConnectionParams

    store = WeaviateStore("http://127.0.0.1:1")
    store._client = weaviate.WeaviateClient(connection_params=ConnectionParams.from_params(
        http_host="127.0.0.1", http_port=1, http_secure=False, grpc_host="127.0.0.1", grpc_port=2,
        grpc_secure=False), skip_init_checks=True)
    yield store
    store.close()


async def test_every_search_the_backend_sends_is_accepted_by_the_installed_client(offline):
    backend = WeaviateDocuments(offline)
    offline._dimensions[DOCUMENTS.name] = 3  # as if ensured: the vector search checks the size first
    where = {"source": "handbook/refunds.md", "meta_team": "finance"}
    for mode in ("hybrid", "keyword", "vector"):
        with pytest.raises(VectorStoreError, match=CLOSED):
            await backend.search("refunded monthly plans", [0.6, 0.8, 0.0], 5, where, mode)
    with pytest.raises(VectorStoreError, match=CLOSED):
        await backend.sources()


# weaviate-client 4.24 calls vectorizer_config / vector_index_config deprecated (Dep024, Dep025) in favour of
# vector_config; app.vectors.weaviate creates its classes the same way. Both still work; moving to
# vector_config (named vectors) wants a server to check the unnamed vectors our upserts send.
@pytest.mark.filterwarnings("ignore:Dep02[45]:DeprecationWarning")
async def test_the_class_the_backend_creates_is_accepted_by_the_installed_client(offline):
    offline.client.collections.exists = lambda name: False  # as on an empty server: go on to create it
    with pytest.raises(VectorStoreError, match=CLOSED):
        await WeaviateDocuments(offline)._create(384)


@pytest.mark.skipif(not WEAVIATE_URL,
                    reason="no Weaviate server: set WEAVIATE_URL to a reachable (loopback) server to run this")
async def test_weaviate_documents_round_trip(local_embedder: LocalEmbedder):
    if not _reachable(WEAVIATE_URL):  # named but down: under CI=true a failure, not a quiet skip
        need_service("Weaviate", f"nothing answers at {WEAVIATE_URL}")
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
