"""Qdrant: local mode on a folder (the embedded default) or a server (``QDRANT_URL``).

Local mode keeps every vector in memory and searches by brute force; it allows one client per folder
(a file lock), so a second process on the same folder fails to open it: run a Qdrant server when
several processes share memory. In local mode, searches are answered by an in-process mirror
(``app.vectors.local_index``): Qdrant's own local filtered search is 15-20x slower.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from pydantic import SecretStr

from app.vectors.base import Hit, Point, Record, Scalar, VectorStore
from app.vectors.local_index import LocalIndex

# Keep the lock-file warning of a second local client from reaching a user as a stack of noise.
SERVER_WORKERS = 4
_SCAN_PAGE = 1000
_LOCKED_HINT = "another process holds this Qdrant folder; use one process per folder or a Qdrant server"


class QdrantStore(VectorStore):
    """Collections in Qdrant: local mode on a folder (one process per folder), or a server."""

    name = "qdrant"

    def __init__(self, *, path: str | os.PathLike[str] | None = None, url: str | None = None,
                 api_key: SecretStr | None = None, timeout: float = 10.0) -> None:
        if (path is None) == (url is None):
            raise ValueError("give exactly one of path (local mode) or url (server)")
        self._path = None if path is None else os.path.abspath(os.fspath(path))
        self._url = url
        self._api_key = api_key
        self._timeout = timeout
        self.kind = "qdrant-local" if url is None else "qdrant-server"
        self.location = self._path or url or ""
        super().__init__(workers=1 if url is None else SERVER_WORKERS)
        self._mirrors: dict[str, LocalIndex] = {}  # local mode only; see app.vectors.local_index
        if api_key is not None:
            self._secrets = (api_key.get_secret_value(),)

    def _open(self) -> Any:
        from qdrant_client import QdrantClient

        if self._path is not None:
            os.makedirs(self._path, exist_ok=True)
            try:
                return QdrantClient(path=self._path)
            except RuntimeError as exc:
                if "already accessed" in str(exc):
                    raise RuntimeError(f"{_LOCKED_HINT} ({self._path})") from None
                raise
        key = self._api_key.get_secret_value() if self._api_key else None
        return QdrantClient(url=self._url, api_key=key, timeout=int(max(1, self._timeout)))

    @staticmethod
    def _filter(where: dict[str, Scalar]) -> Any:
        if not where:
            return None
        from qdrant_client import models

        return models.Filter(must=[models.FieldCondition(key=k, match=models.MatchValue(value=v))
                                   for k, v in where.items()])

    def _ensure(self, collection: str, dimension: int, keyword_fields: Sequence[str]) -> int:
        from qdrant_client import models

        client = self.client
        if client.collection_exists(collection):
            vectors = client.get_collection(collection).config.params.vectors
            return int(vectors.size)
        client.create_collection(collection, vectors_config=models.VectorParams(
            size=dimension, distance=models.Distance.COSINE))
        if self._url is not None:  # local mode has no payload indexes (it scans)
            for field in keyword_fields:
                client.create_payload_index(collection, field, models.PayloadSchemaType.KEYWORD)
        return dimension

    def _upsert(self, collection: str, points: list[Point]) -> None:
        from qdrant_client import models

        self.client.upsert(collection, wait=True, points=[
            models.PointStruct(id=p.id, vector=list(p.vector), payload=dict(p.payload)) for p in points])
        mirror = self._mirrors.get(collection)
        if mirror is not None:
            mirror.upsert((p.id, p.vector, p.payload) for p in points)

    def _mirror(self, collection: str) -> LocalIndex:
        """The collection's in-process mirror, loaded from the folder on first use (local mode)."""
        mirror = self._mirrors.get(collection)
        if mirror is None:
            mirror = LocalIndex(self._dimension(collection))
            offset = None
            while True:
                page, offset = self.client.scroll(collection, limit=1000, offset=offset, with_payload=True,
                                                  with_vectors=True)
                mirror.upsert((str(r.id), r.vector, r.payload or {}) for r in page)
                if offset is None:
                    break
            self._mirrors[collection] = mirror
        return mirror

    def _search(self, collection: str, vector: list[float], limit: int, where: dict[str, Scalar]) -> list[Hit]:
        if self._path is not None:
            return self._mirror(collection).search(vector, limit, where)
        response = self.client.query_points(collection, query=vector, limit=limit,
                                            query_filter=self._filter(where), with_payload=True)
        return [Hit(str(p.id), float(p.score), dict(p.payload or {})) for p in response.points]

    def _scroll(self, collection: str, where: dict[str, Scalar], limit: int) -> list[Record]:
        records: list[Record] = []
        offset = None
        while len(records) < limit:
            page, offset = self.client.scroll(collection, scroll_filter=self._filter(where),
                                              limit=limit - len(records), offset=offset, with_payload=True)
            records.extend(Record(str(r.id), dict(r.payload or {})) for r in page)
            if offset is None:
                break
        return records

    def _scan(self, collection: str, where: dict[str, Scalar]) -> list[Record]:
        records: list[Record] = []
        offset = None
        while True:
            page, offset = self.client.scroll(collection, scroll_filter=self._filter(where), limit=_SCAN_PAGE,
                                              offset=offset, with_payload=True, with_vectors=False)
            records.extend(Record(str(r.id), dict(r.payload or {})) for r in page)
            if offset is None:
                return records

    def _drop(self, collection: str) -> None:
        self._mirrors.pop(collection, None)
        self.client.delete_collection(collection)

    def _get(self, collection: str, ids: list[str]) -> list[Record]:
        return [Record(str(r.id), dict(r.payload or {})) for r in self.client.retrieve(collection, ids)]

    def _delete(self, collection: str, ids: list[str] | None, where: dict[str, Scalar]) -> None:
        from qdrant_client import models

        mirror = self._mirrors.get(collection)
        if ids is None and mirror is not None:
            ids = mirror.ids_matching(where)  # the same points, named, so the mirror drops them too
        selector: Any = (models.PointIdsList(points=list(ids)) if ids is not None
                         else models.FilterSelector(filter=self._filter(where)))
        self.client.delete(collection, points_selector=selector, wait=True)
        if mirror is not None and ids is not None:
            mirror.delete(ids)

    def _count(self, collection: str, where: dict[str, Scalar]) -> int:
        return int(self.client.count(collection, count_filter=self._filter(where), exact=True).count)

    def _health(self) -> str:
        names = [c.name for c in self.client.get_collections().collections]
        mode = "local mode at" if self._path else "server at"
        return f"{mode} {self.location}: {len(names)} collection(s)"
