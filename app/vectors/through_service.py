"""A Qdrant folder held by the local service, reached through that service.

Qdrant local mode locks its folder to one process. While ``sophia serve`` (``make run``) holds it,
another process (the spec's Python examples, ``sophia health``, the integration check) would lose
agent memory; instead its store sends each operation to the service (``POST /internal/vectors/{op}``,
loopback only), which runs it on the store it holds. Vectors are computed in the calling process, so
the service only stores and searches. The wire format is JSON; see ``app.service.vector_routes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import SecretStr

from app.vectors.base import Hit, Point, Record, Scalar, VectorStore

_WORKERS = 4  # the HTTP client is thread-safe; the service serialises what the folder needs
UPSERT_BATCH = 32
"""Points per request: a 384-d vector is ~8 KB of JSON, a document chunk's payload a few KB more, and the
service refuses bodies over ``SOPHIA_MAX_BODY_BYTES`` (1 MB by default)."""


class ServiceHeldStore(VectorStore):
    """The vector-store interface over the local service's HTTP API, for a folder the service holds."""

    name = "qdrant"
    kind = "qdrant-service"
    """Shared with the service's own writes, like a server (documents keep their keyword index current)."""

    def __init__(self, service_url: str, folder: str, *, pid: int, token: SecretStr | None = None,
                 timeout: float = 10.0) -> None:
        self._url = service_url.rstrip("/") + "/internal/vectors/"
        self._token = token
        self._timeout = timeout
        self.location = folder
        self.via = f"the service at {service_url} (pid {pid})"
        super().__init__(workers=_WORKERS)
        if token is not None:
            self._secrets = (token.get_secret_value(),)

    def _open(self) -> Any:
        import httpx2

        headers = {"authorization": f"Bearer {self._token.get_secret_value()}"} if self._token else {}
        return httpx2.Client(base_url=self._url, timeout=self._timeout, headers=headers, trust_env=False)

    def _post(self, operation: str, **body: Any) -> dict[str, Any]:
        response = self.client.post(operation, json=body)
        if response.status_code != 200:
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:300]
            raise RuntimeError(f"{self.via} answered {response.status_code}: {message}")
        return dict(response.json())

    def _ensure(self, collection: str, dimension: int, keyword_fields: Sequence[str]) -> int:
        return int(self._post("ensure", collection=collection, dimension=dimension,
                              keyword_fields=list(keyword_fields))["dimension"])

    def _upsert(self, collection: str, points: list[Point]) -> None:
        for start in range(0, len(points), UPSERT_BATCH):  # each request well under the service's body limit
            self._post("upsert", collection=collection, points=[
                {"id": p.id, "vector": list(p.vector), "payload": dict(p.payload)}
                for p in points[start:start + UPSERT_BATCH]])

    def _search(self, collection: str, vector: list[float], limit: int, where: dict[str, Scalar]) -> list[Hit]:
        found = self._post("search", collection=collection, vector=vector, limit=limit, where=where)
        return [Hit(h["id"], float(h["score"]), h["payload"]) for h in found["hits"]]

    def _scroll(self, collection: str, where: dict[str, Scalar], limit: int) -> list[Record]:
        found = self._post("scroll", collection=collection, where=where, limit=limit)
        return [Record(r["id"], r["payload"]) for r in found["records"]]

    def _scan(self, collection: str, where: dict[str, Scalar]) -> list[Record]:
        return [Record(r["id"], r["payload"]) for r in self._post("scan", collection=collection, where=where)["records"]]

    def _drop(self, collection: str) -> None:
        self._post("drop", collection=collection)

    def _get(self, collection: str, ids: list[str]) -> list[Record]:
        return [Record(r["id"], r["payload"]) for r in self._post("get", collection=collection, ids=ids)["records"]]

    def _delete(self, collection: str, ids: list[str] | None, where: dict[str, Scalar]) -> None:
        self._post("delete", collection=collection, ids=ids, where=where)

    def _count(self, collection: str, where: dict[str, Scalar]) -> int:
        return int(self._post("count", collection=collection, where=where)["count"])

    def _health(self) -> str:
        found = self._post("health")
        if not found["ok"]:
            raise RuntimeError(f"through {self.via}: {found['reason']}")
        return f"through {self.via}: {found['reason']}"
