"""Weaviate: the v4 client against a server at ``WEAVIATE_URL`` (gRPC on ``WEAVIATE_GRPC_PORT``).

Embedded Weaviate downloads and runs a server binary, which this project does not do: without a
server the store is "not configured". Weaviate collection names start with a capital letter, so
``sophia_knowledge`` is stored as ``Sophia_knowledge``; vectors are ours (no vectoriser), cosine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from app.vectors.base import Hit, Point, Record, Scalar, VectorStore


def class_name(collection: str) -> str:
    """Weaviate's name for ``collection`` (its first letter capitalised)."""
    return collection[:1].upper() + collection[1:]


class WeaviateStore(VectorStore):
    """Collections in a Weaviate server; our vectors, no vectoriser."""

    name = "weaviate"
    kind = "weaviate"

    def __init__(self, url: str, api_key: SecretStr | None = None, grpc_port: int = 50051,
                 timeout: float = 10.0) -> None:
        self._url = url
        self._api_key = api_key
        self._grpc_port = grpc_port
        self._timeout = timeout
        self.location = url
        super().__init__(workers=4)  # the client is thread-safe; the server (or Lite process) does the work
        if api_key is not None:
            self._secrets = (api_key.get_secret_value(),)

    def _open(self) -> Any:
        import weaviate
        from weaviate.classes.init import AdditionalConfig, Auth, Timeout

        parts = urlsplit(self._url)
        secure = parts.scheme == "https"
        host = parts.hostname or "localhost"
        auth = Auth.api_key(self._api_key.get_secret_value()) if self._api_key else None
        timeout = int(max(1, self._timeout))
        return weaviate.connect_to_custom(
            http_host=host, http_port=parts.port or (443 if secure else 80), http_secure=secure,
            grpc_host=host, grpc_port=self._grpc_port, grpc_secure=secure, auth_credentials=auth,
            additional_config=AdditionalConfig(timeout=Timeout(init=timeout, query=timeout, insert=timeout)),
        )

    @staticmethod
    def _filter(where: dict[str, Scalar]) -> Any:
        if not where:
            return None
        from weaviate.classes.query import Filter

        conditions = [Filter.by_property(k).equal(v) for k, v in where.items()]
        return conditions[0] if len(conditions) == 1 else Filter.all_of(conditions)

    def _collection(self, collection: str) -> Any:
        return self.client.collections.get(class_name(collection))

    def _ensure(self, collection: str, dimension: int, keyword_fields: Sequence[str]) -> int:
        from weaviate.classes.config import Configure, VectorDistances

        collections = self.client.collections
        name = class_name(collection)
        if collections.exists(name):
            # Weaviate fixes the size with the first vector; read it back from any stored object.
            sample = collections.get(name).query.fetch_objects(limit=1, include_vector=True).objects
            if sample:
                vector = sample[0].vector
                vector = vector.get("default", vector) if isinstance(vector, dict) else vector
                return len(vector) if vector else dimension
            return dimension
        collections.create(
            name, vectorizer_config=Configure.Vectorizer.none(),
            vector_index_config=Configure.VectorIndex.hnsw(distance_metric=VectorDistances.COSINE),
        )
        return dimension

    def _upsert(self, collection: str, points: list[Point]) -> None:
        from weaviate.classes.data import DataObject

        result = self._collection(collection).data.insert_many(
            [DataObject(properties=dict(p.payload), uuid=p.id, vector=list(p.vector)) for p in points])
        if result.has_errors:
            first = next(iter(result.errors.values()))
            raise RuntimeError(f"{len(result.errors)} object(s) rejected, e.g. {first.message}")

    def _search(self, collection: str, vector: list[float], limit: int, where: dict[str, Scalar]) -> list[Hit]:
        from weaviate.classes.query import MetadataQuery

        response = self._collection(collection).query.near_vector(
            near_vector=vector, limit=limit, filters=self._filter(where),
            return_metadata=MetadataQuery(distance=True))
        # Weaviate reports cosine distance (1 - cosine similarity).
        return [Hit(str(o.uuid), 1.0 - float(o.metadata.distance or 0.0), dict(o.properties))
                for o in response.objects]

    def _scroll(self, collection: str, where: dict[str, Scalar], limit: int) -> list[Record]:
        response = self._collection(collection).query.fetch_objects(limit=limit, filters=self._filter(where))
        return [Record(str(o.uuid), dict(o.properties)) for o in response.objects]

    def _drop(self, collection: str) -> None:
        self.client.collections.delete(class_name(collection))

    def _get(self, collection: str, ids: list[str]) -> list[Record]:
        from weaviate.classes.query import Filter

        response = self._collection(collection).query.fetch_objects(
            limit=len(ids), filters=Filter.by_id().contains_any(ids))
        return [Record(str(o.uuid), dict(o.properties)) for o in response.objects]

    def _delete(self, collection: str, ids: list[str] | None, where: dict[str, Scalar]) -> None:
        from weaviate.classes.query import Filter

        condition = Filter.by_id().contains_any(ids) if ids is not None else self._filter(where)
        self._collection(collection).data.delete_many(where=condition)

    def _count(self, collection: str, where: dict[str, Scalar]) -> int:
        result = self._collection(collection).aggregate.over_all(total_count=True, filters=self._filter(where))
        return int(result.total_count or 0)

    def _health(self) -> str:
        if not self.client.is_ready():
            raise RuntimeError(f"server at {self.location} is not ready")
        return f"server at {self.location}: ready"
