"""The process's stores, one per location, opened from settings.

One store object per location matters: Qdrant local mode locks its folder against a second client,
even in the same process, so the memory layer and the health check must share it. A folder that the
local service (``make run``) holds is reached through that service (``app.vectors.through_service``).
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import Any

from pydantic import SecretStr

from app.core.errors import ConfigurationError
from app.core.local_service import find_local_service
from app.vectors.base import VectorStore

_lock = threading.Lock()
_stores: dict[tuple[str, str], VectorStore] = {}


def qdrant_path(settings: Any) -> str:
    """``QDRANT_PATH``, else ``<SOPHIA_DATA_DIR>/qdrant``, absolute (resolved against the working directory)."""
    return os.path.abspath(settings.qdrant_path or os.path.join(settings.sophia_data_dir, "qdrant"))


def milvus_uri(settings: Any) -> str:
    """``MILVUS_URI`` (a server URL or a Milvus Lite file), else ``<SOPHIA_DATA_DIR>/milvus.db``."""
    from app.vectors.milvus import is_server_uri

    uri = settings.milvus_uri or os.path.join(settings.sophia_data_dir, "milvus.db")
    return uri if is_server_uri(uri) else os.path.abspath(uri)


def _build(kind: str, location: str, settings: Any) -> VectorStore:
    if kind == "qdrant":
        from app.vectors.qdrant import QdrantStore

        if settings.qdrant_url:
            return QdrantStore(url=location, api_key=settings.qdrant_api_key)
        service = find_local_service(settings.sophia_data_dir)
        if service is not None and service.holds(location):
            from app.vectors.through_service import ServiceHeldStore

            return ServiceHeldStore(service.url, location, pid=service.pid, token=_first_token(settings))
        return QdrantStore(path=location)
    if kind == "milvus":
        from app.vectors.milvus import MilvusStore

        return MilvusStore(location)
    from app.vectors.weaviate import WeaviateStore

    return WeaviateStore(location, settings.weaviate_api_key, settings.weaviate_grpc_port)


def _first_token(settings: Any) -> SecretStr | None:
    """One of the service's bearer tokens (``SOPHIA_API_KEYS``), for a process that calls it."""
    raw = settings.sophia_api_keys.get_secret_value() if settings.sophia_api_keys else ""
    tokens = [t.strip() for t in raw.split(",") if t.strip()]
    return SecretStr(tokens[0]) if tokens else None


def _location(kind: str, settings: Any) -> str:
    if kind == "qdrant":
        return settings.qdrant_url or qdrant_path(settings)
    if kind == "milvus":
        return milvus_uri(settings)
    if kind == "weaviate":
        if not settings.weaviate_url:
            raise ConfigurationError("Weaviate needs a server: set WEAVIATE_URL (embedded Weaviate is not "
                                     "supported)", env_vars=["WEAVIATE_URL"])
        return settings.weaviate_url
    raise ConfigurationError(f"unknown vector store {kind!r}; expected qdrant, milvus or weaviate",
                             env_vars=["VECTOR_STORE"])


def get_store(settings: Any, kind: str | None = None) -> VectorStore:
    """The process's store of ``kind`` (default ``VECTOR_STORE``) at the location the settings name.

    Nothing is opened here: the client connects (or opens its files) on first use.
    """
    kind = kind or settings.vector_store
    location = _location(kind, settings)
    with _lock:
        store = _stores.get((kind, location))
        if store is None:
            store = _stores[(kind, location)] = _build(kind, location, settings)
        return store


def close_stores() -> None:
    """Close every store this process opened (releasing folder locks); the next use reopens."""
    with _lock:
        stores = list(_stores.values())
        _stores.clear()
    for store in stores:
        store.close()


# Close clients while the interpreter is whole: Qdrant's local client otherwise tries to close itself
# during interpreter teardown and prints an ImportError.
atexit.register(close_stores)
