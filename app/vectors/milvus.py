"""Milvus: Milvus Lite on a local file (``*.db``) or a server (``MILVUS_URI=http://host:19530``).

Collections use the quick-setup schema: a string primary key ``id``, a float vector ``vector`` (cosine)
and every payload field in the dynamic JSON field, so payloads need no schema. A collection reopened
from disk is released until loaded, so ensuring a collection also loads it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Sequence
from typing import Any

from pydantic import SecretStr

from app.core.errors import ConfigurationError
from app.vectors.base import Hit, Point, Record, Scalar, VectorStore

ID_LENGTH = 64
_import_lock = threading.Lock()


def is_server_uri(uri: str) -> bool:
    """True for a Milvus server URI; False for a Milvus Lite file path."""
    return uri.startswith(("http://", "https://", "tcp://", "unix://"))


_IMPORT_ENV = {"MILVUS_URI": "", "MILVUS_DEFAULT_CONNECTION": "", "PYTHON_DOTENV_DISABLED": "1"}


def milvus_client_class() -> Any:
    """pymilvus's ``MilvusClient``, imported without pymilvus reading our ``MILVUS_URI``.

    On import, pymilvus loads ``.env`` into the environment and parses ``MILVUS_URI`` as its default
    connection, which fails ("Illegal uri") for a Milvus Lite file, the form we document
    (``MILVUS_URI=/path/file.db``). Our adapter hands the URI to the client itself, so the import is
    shown an empty ``MILVUS_URI`` and no ``.env``, and the environment is restored right after.
    """
    if "pymilvus" not in sys.modules:
        with _import_lock:
            saved = {name: os.environ.get(name) for name in _IMPORT_ENV}
            os.environ.update(_IMPORT_ENV)
            try:
                import pymilvus  # noqa: F401
            finally:
                for name, value in saved.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value
    from pymilvus import MilvusClient

    return MilvusClient


def expression(where: dict[str, Scalar]) -> str:
    """A boolean filter expression; field names are validated identifiers, values JSON literals."""
    parts = []
    for key, value in where.items():
        literal = ("true" if value else "false") if isinstance(value, bool) else json.dumps(value)
        parts.append(f"{key} == {literal}")
    return " and ".join(parts)


class MilvusStore(VectorStore):
    """Collections in Milvus: Milvus Lite on a local ``.db`` file, or a server."""

    name = "milvus"

    def __init__(self, uri: str | os.PathLike[str], token: SecretStr | None = None,
                 timeout: float = 10.0) -> None:
        uri = os.fspath(uri)
        self._server = is_server_uri(uri)
        self._uri = uri if self._server else os.path.abspath(uri)
        self._token = token
        self._timeout = timeout
        self._loaded: set[str] = set()
        self.kind = "milvus-server" if self._server else "milvus-lite"
        self.location = self._uri
        super().__init__(workers=4)  # the client is thread-safe; the server (or Lite process) does the work
        if token is not None:
            self._secrets = (token.get_secret_value(),)

    def _open(self) -> Any:
        try:
            client_class = milvus_client_class()
        except ImportError:
            raise ConfigurationError(
                "Milvus needs the milvus extra: pip install -e '.[milvus]' (or use the default Qdrant store: "
                "unset VECTOR_STORE and MILVUS_URI)", env_vars=["VECTOR_STORE", "MILVUS_URI"]) from None

        if not self._server:
            os.makedirs(os.path.dirname(self._uri), exist_ok=True)
        token = self._token.get_secret_value() if self._token else ""
        return client_class(uri=self._uri, token=token, timeout=self._timeout)

    def _ready(self, collection: str) -> None:
        if collection not in self._loaded:
            self.client.load_collection(collection)
            self._loaded.add(collection)

    def _ensure(self, collection: str, dimension: int, keyword_fields: Sequence[str]) -> int:
        client = self.client
        if client.has_collection(collection):
            fields = client.describe_collection(collection)["fields"]
            size = next(int(f["params"]["dim"]) for f in fields if f["name"] == "vector")
        else:
            client.create_collection(collection, dimension=dimension, primary_field_name="id",
                                     id_type="string", max_length=ID_LENGTH, vector_field_name="vector",
                                     metric_type="COSINE", auto_id=False, consistency_level="Strong")
            size = dimension
        self._ready(collection)
        return size

    def _upsert(self, collection: str, points: list[Point]) -> None:
        self.client.upsert(collection, [{**p.payload, "id": p.id, "vector": list(p.vector)} for p in points])

    def _search(self, collection: str, vector: list[float], limit: int, where: dict[str, Scalar]) -> list[Hit]:
        self._ready(collection)
        result = self.client.search(collection, data=[vector], limit=limit, filter=expression(where),
                                    output_fields=["$meta"])
        return [Hit(str(h["id"]), float(h["distance"]), dict(h["entity"])) for h in result[0]]

    def _scroll(self, collection: str, where: dict[str, Scalar], limit: int) -> list[Record]:
        self._ready(collection)
        rows = self.client.query(collection, filter=expression(where), limit=limit, output_fields=["$meta"])
        return [Record(str(row.pop("id")), dict(row)) for row in rows]

    def _drop(self, collection: str) -> None:
        self.client.drop_collection(collection)
        self._loaded.discard(collection)

    def _get(self, collection: str, ids: list[str]) -> list[Record]:
        self._ready(collection)
        rows = self.client.get(collection, ids=ids, output_fields=["$meta"])
        return [Record(str(row.pop("id")), dict(row)) for row in rows]

    def _delete(self, collection: str, ids: list[str] | None, where: dict[str, Scalar]) -> None:
        if ids is not None:
            self.client.delete(collection, ids=ids)
        else:
            self.client.delete(collection, filter=expression(where))

    def _count(self, collection: str, where: dict[str, Scalar]) -> int:
        self._ready(collection)
        rows = self.client.query(collection, filter=expression(where), output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def _health(self) -> str:
        names = self.client.list_collections()
        mode = "server at" if self._server else "Milvus Lite at"
        return f"{mode} {self.location}: {len(names)} collection(s)"
