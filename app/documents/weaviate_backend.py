"""Documents on a Weaviate server (``WEAVIATE_URL``): Weaviate's own hybrid query.

The ``Documents`` class is created with explicit properties: ``text``, ``section`` and ``title``
are word-tokenised for BM25; ``source``, ``content_hash`` and ``format`` are field-tokenised, so
filters on them match whole values. Metadata properties (``meta_<key>``) come from Weaviate's
auto-schema on first write (word-tokenised text: an equality filter on a multi-word value matches
by words). Hybrid search is ``query.hybrid`` with our vector, alpha 0.5 and ranked fusion (RRF,
the same fusion as on Qdrant); vector-only search is ``near_vector`` (cosine), keyword-only ``bm25``.
"""

from __future__ import annotations

from typing import Any

from app.documents.backends import (
    DOCUMENT_SOURCES,
    DOCUMENTS,
    DocumentBackend,
    SearchMode,
    hit_from,
    source_from,
)
from app.documents.models import DocumentHit, Scalar, SourceInfo
from app.vectors.weaviate import WeaviateStore, class_name

KEYWORD_PROPERTIES = ["text", "section", "title"]
HYBRID_ALPHA = 0.5
"""Weight of the vector side (0: keywords only, 1: vectors only)."""


class WeaviateDocuments(DocumentBackend):
    """Documents on a Weaviate server, searched with Weaviate's own hybrid, vector and BM25 queries."""

    store: WeaviateStore

    async def _create(self, dimension: int) -> None:
        def create(client: Any) -> None:
            from weaviate.classes.config import Configure, DataType, Property, Tokenization, VectorDistances

            name = class_name(DOCUMENTS.name)
            if client.collections.exists(name):
                return

            def field(prop: str) -> Any:  # whole-value text: filtered on, never searched by BM25
                return Property(name=prop, data_type=DataType.TEXT, tokenization=Tokenization.FIELD,
                                index_searchable=False)

            client.collections.create(
                name, vectorizer_config=Configure.Vectorizer.none(),
                vector_index_config=Configure.VectorIndex.hnsw(distance_metric=VectorDistances.COSINE),
                properties=[
                    Property(name="text", data_type=DataType.TEXT, tokenization=Tokenization.WORD),
                    Property(name="section", data_type=DataType.TEXT, tokenization=Tokenization.WORD),
                    Property(name="title", data_type=DataType.TEXT, tokenization=Tokenization.WORD),
                    field("source"), field("content_hash"), field("format"), field("added_at"),
                    *(Property(name=prop, data_type=DataType.INT) for prop in ("chunk_index", "chunk_count", "page")),
                ])

        await self.store.run_on_client("ensure", create)
        await super()._create(dimension)

    async def sources(self) -> list[SourceInfo]:
        """Every source's current record (Weaviate's iterator pages through the class)."""

        def scan(client: Any) -> list[dict[str, Any]]:
            collection = client.collections.get(class_name(DOCUMENT_SOURCES.name))
            return [dict(o.properties) for o in collection.iterator()]

        return [source_from(p) for p in await self.store.run_on_client("scroll", scan)]

    async def search(self, query: str, vector: list[float], limit: int, where: dict[str, Scalar],
                     mode: SearchMode) -> list[DocumentHit]:
        """``near_vector`` for vector, ``bm25`` for keyword, ``hybrid`` (RRF, alpha 0.5) for hybrid."""
        if mode == "vector":
            return [hit_from(h.payload, h.score) for h in await self.store.search(DOCUMENTS.name, vector, limit,
                                                                               where or None)]
        filters = WeaviateStore._filter(where)

        def run(client: Any) -> list[tuple[dict[str, Any], float]]:
            from weaviate.classes.query import HybridFusion, MetadataQuery

            collection = client.collections.get(class_name(DOCUMENTS.name))
            if mode == "keyword":
                response = collection.query.bm25(query=query, query_properties=KEYWORD_PROPERTIES, limit=limit,
                                                 filters=filters, return_metadata=MetadataQuery(score=True))
            else:
                response = collection.query.hybrid(
                    query=query, vector=vector, alpha=HYBRID_ALPHA, fusion_type=HybridFusion.RANKED,
                    query_properties=KEYWORD_PROPERTIES, limit=limit, filters=filters,
                    return_metadata=MetadataQuery(score=True))
            return [(dict(o.properties), float(o.metadata.score or 0.0)) for o in response.objects]

        return [hit_from(payload, score) for payload, score in await self.store.run_on_client("search", run)]
