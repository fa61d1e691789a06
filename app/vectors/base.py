"""The vector-store interface every adapter implements.

Callers use the async methods; each adapter implements blocking ``_methods`` that run on the store's
worker threads, which keeps blocking client calls off the event loop. Qdrant local mode gets one
worker, serialising every call (its client is not thread-safe); clients of servers get a few. The client is opened lazily on that thread and reopened after a failed open,
so a store that is down at start-up recovers without a restart.
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from app.core.errors import InvalidRequestError, SophiaError
from app.core.redaction import describe_error
from app.vectors.metrics import LATENCY, VECTOR_ERRORS

Scalar = str | int | float | bool
Filter = Mapping[str, Scalar]
"""Equality on payload fields, all of which must hold, e.g. ``{"agent_id": "...", "domain": "sophia"}``."""

T = TypeVar("T")

_COLLECTION = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
RESERVED_FIELDS = frozenset({"id", "vector"})
MAX_LIMIT = 1000


class VectorStoreError(SophiaError):
    """A vector store could not do what was asked (unreachable, locked, wrong dimension, ...)."""

    def __init__(self, store: str, operation: str, reason: str) -> None:
        super().__init__(f"{store}: {operation} failed: {reason}")
        self.store = store
        self.operation = operation


@dataclass(frozen=True, slots=True)
class Point:
    """A vector to store, with the payload fields it can be filtered on."""

    id: str
    """A UUID string; derive it from content (uuid5) so a rewrite replaces instead of duplicating."""
    vector: Sequence[float]
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Record:
    """A stored point without its vector (what ``get`` and ``scroll`` return)."""

    id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Hit:
    """A search result: a stored point and how close it is to the query."""

    id: str
    score: float
    """Cosine similarity, higher is closer (1.0 is the same direction)."""
    payload: dict[str, Any]


def check_collection(name: Any) -> str:
    """``name`` if it is a valid collection name (lower-case, at most 63 characters); raises otherwise."""
    if not isinstance(name, str) or not _COLLECTION.match(name):
        raise InvalidRequestError(f"collection name {name!r} must match {_COLLECTION.pattern}")
    return name


def check_filter(where: Filter | None) -> dict[str, Scalar]:
    """The filter as a dict ({} for None); raises for reserved or invalid fields and non-scalar values."""
    if where is None:
        return {}
    if not isinstance(where, Mapping):
        raise InvalidRequestError(f"filter must be a mapping of field to value, got {type(where).__name__}")
    for key, value in where.items():
        if not isinstance(key, str) or not _FIELD.match(key) or key in RESERVED_FIELDS:
            raise InvalidRequestError(f"filter field {key!r} is not a valid payload field name")
        if not isinstance(value, Scalar):
            raise InvalidRequestError(f"filter value for {key!r} must be a string, number or bool")
    return dict(where)


def check_vector(vector: Any, dimension: int | None = None) -> list[float]:
    """The vector as finite floats (``dimension`` of them, if given); else ``InvalidRequestError``."""
    try:
        values = [float(v) for v in vector]
    except (TypeError, ValueError):
        raise InvalidRequestError("a vector must be a sequence of numbers") from None
    if not values or not all(math.isfinite(v) for v in values):
        raise InvalidRequestError("a vector must be non-empty and finite")
    if dimension is not None and len(values) != dimension:
        raise InvalidRequestError(f"vector has {len(values)} dimensions, the collection has {dimension}")
    return values


def check_point(point: Any) -> Point:
    """A copy of ``point`` with its id, vector and payload field names checked."""
    if not isinstance(point, Point):
        raise InvalidRequestError(f"expected a Point, got {type(point).__name__}")
    bad = [k for k in point.payload if not isinstance(k, str) or not _FIELD.match(k) or k in RESERVED_FIELDS]
    if bad:
        raise InvalidRequestError(f"payload field names {bad!r} are reserved or invalid")
    return Point(check_id(point.id), check_vector(point.vector), dict(point.payload))


def check_id(value: Any) -> str:
    """The id in canonical UUID form; raises ``InvalidRequestError`` for anything that is not a UUID."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise InvalidRequestError(f"point id {value!r} is not a UUID (derive ids with uuid5)") from None


def check_limit(limit: Any) -> int:
    """``limit`` if it is an integer from 1 to ``MAX_LIMIT``; raises ``InvalidRequestError`` otherwise."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequestError(f"limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}")
    return limit


class VectorStore(ABC):
    """Ensure/drop a collection, upsert, search with filters, scroll, get, delete, count, health.

    ``kind`` labels metrics and health (``qdrant-local``, ``milvus-lite``, ...); ``location`` says
    where the data lives, without credentials.
    """

    name: str
    kind: str
    location: str

    def __init__(self, workers: int = 1) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"sophia-{self.name}")
        self._client: Any = None
        self._dimensions: dict[str, int] = {}
        self._closed = threading.Event()
        self._secrets: tuple[str, ...] = ()

    # --- what adapters implement (called on the worker thread only) ---
    @abstractmethod
    def _open(self) -> Any: ...

    @abstractmethod
    def _ensure(self, collection: str, dimension: int, keyword_fields: Sequence[str]) -> int:
        """Create the collection if missing; return its dimension (an existing one keeps its own)."""

    @abstractmethod
    def _upsert(self, collection: str, points: list[Point]) -> None: ...

    @abstractmethod
    def _search(self, collection: str, vector: list[float], limit: int, where: dict[str, Scalar]) -> list[Hit]: ...

    @abstractmethod
    def _scroll(self, collection: str, where: dict[str, Scalar], limit: int) -> list[Record]: ...

    def _scan(self, collection: str, where: dict[str, Scalar]) -> list[Record]:
        """Every point matching ``where``, paged; the engines that need it (Qdrant) implement it."""
        raise NotImplementedError(f"{self.kind} cannot scan a whole collection")

    @abstractmethod
    def _drop(self, collection: str) -> None: ...

    @abstractmethod
    def _get(self, collection: str, ids: list[str]) -> list[Record]: ...

    @abstractmethod
    def _delete(self, collection: str, ids: list[str] | None, where: dict[str, Scalar]) -> None: ...

    @abstractmethod
    def _count(self, collection: str, where: dict[str, Scalar]) -> int: ...

    @abstractmethod
    def _health(self) -> str:
        """A short description of the store's state; raises when it is not usable."""

    def _close(self) -> None:
        close = getattr(self._client, "close", None)
        if close is not None:
            close()

    # --- plumbing ---
    @property
    def client(self) -> Any:
        """The vendor client (opened on first use); only for code already on the worker thread."""
        if self._client is None:
            self._client = self._open()
        return self._client

    async def _run(self, operation: str, fn: Callable[..., T], *args: Any) -> T:
        if self._closed.is_set():
            raise VectorStoreError(self.kind, operation, "the store is closed")
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            return await loop.run_in_executor(self._executor, self._call, fn, args)
        except (VectorStoreError, InvalidRequestError):
            VECTOR_ERRORS.labels(self.kind, operation).inc()
            raise
        except Exception as exc:
            VECTOR_ERRORS.labels(self.kind, operation).inc()
            reason = describe_error(exc, self._secrets, limit=400)
            raise VectorStoreError(self.kind, operation, reason) from exc
        finally:
            histogram = LATENCY.get(operation)
            if histogram is not None:
                histogram.labels(self.kind).observe(time.perf_counter() - started)

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        self.client  # noqa: B018 - open on this thread, so a failed open is retried by the next call
        return fn(*args)

    def _dimension(self, collection: str) -> int:
        if collection not in self._dimensions:
            raise VectorStoreError(self.kind, "use", f"collection {collection!r} was not ensured first")
        return self._dimensions[collection]

    async def run_on_client(self, operation: str, fn: Callable[[Any], T]) -> T:
        """``fn(client)`` on the store's worker thread, with this store's error translation and metrics.

        For engine features the interface does not cover (Weaviate's hybrid query, paging through a
        whole collection). Write through the interface instead: it keeps the Qdrant mirror in step.
        """
        return await self._run(operation, lambda: fn(self.client))

    # --- the interface ---
    async def ensure_collection(self, collection: str, dimension: int,
                                keyword_fields: Sequence[str] = ()) -> int:
        """Create ``collection`` (cosine) unless it exists; returns its dimension.

        ``keyword_fields`` are indexed where the engine supports payload indexes (Qdrant server).
        An existing collection of another dimension is an error naming both sizes.
        """
        check_collection(collection)
        if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension <= 0:
            raise InvalidRequestError(f"dimension must be a positive integer, got {dimension!r}")
        existing = await self._run("ensure", self._ensure, collection, dimension, tuple(keyword_fields))
        if existing != dimension:
            raise VectorStoreError(
                self.kind, "ensure",
                f"collection {collection!r} at {self.location} holds {existing}-d vectors, the embedder "
                f"gives {dimension}-d; point the store elsewhere or drop the collection",
            )
        self._dimensions[collection] = existing
        return existing

    async def upsert(self, collection: str, points: Sequence[Point]) -> None:
        """Write the points, replacing those whose ids exist; the collection must have been ensured."""
        check_collection(collection)
        checked = [check_point(p) for p in points]
        if not checked:
            return
        dimension = self._dimension(collection)
        for point in checked:
            check_vector(point.vector, dimension)
        await self._run("upsert", self._upsert, collection, checked)

    async def search(self, collection: str, vector: Sequence[float], limit: int = 10,
                     where: Filter | None = None) -> list[Hit]:
        """The ``limit`` nearest points whose payload matches ``where``, closest first."""
        check_collection(collection)
        values = check_vector(vector, self._dimension(collection))
        return await self._run("search", self._search, collection, values, check_limit(limit),
                               check_filter(where))

    async def scroll(self, collection: str, where: Filter | None = None, limit: int = 100) -> list[Record]:
        """Up to ``limit`` points matching ``where``, in no particular order."""
        check_collection(collection)
        self._dimension(collection)
        return await self._run("scroll", self._scroll, collection, check_filter(where), check_limit(limit))

    async def scan(self, collection: str, where: Filter | None = None) -> list[Record]:
        """Every point matching ``where``, however many (``scroll`` stops at ``MAX_LIMIT``), in no order."""
        check_collection(collection)
        return await self._run("scroll", self._scan, collection, check_filter(where))

    async def get(self, collection: str, ids: Sequence[str]) -> list[Record]:
        """The points of these ids that exist."""
        check_collection(collection)
        self._dimension(collection)
        id_list = [check_id(i) for i in ids]
        return await self._run("get", self._get, collection, id_list) if id_list else []

    async def delete(self, collection: str, ids: Sequence[str] | None = None,
                     where: Filter | None = None) -> None:
        """Delete the given ids, or every point matching ``where`` (one of the two, not neither)."""
        check_collection(collection)
        self._dimension(collection)
        where = check_filter(where)
        if (ids is None) == (not where):
            raise InvalidRequestError("delete takes ids or a non-empty filter, exactly one of the two")
        id_list = None if ids is None else [check_id(i) for i in ids]
        if id_list == []:
            return
        await self._run("delete", self._delete, collection, id_list, where)

    async def count(self, collection: str, where: Filter | None = None) -> int:
        """How many points match ``where`` (all of them for None)."""
        check_collection(collection)
        self._dimension(collection)
        return await self._run("count", self._count, collection, check_filter(where))

    async def drop_collection(self, collection: str) -> None:
        """Delete the collection and everything in it (no error if it does not exist)."""
        check_collection(collection)
        await self._run("drop", self._drop, collection)
        self._dimensions.pop(collection, None)

    async def health(self) -> tuple[bool, str]:
        """(True, what was checked) or (False, why not); never raises."""
        try:
            return True, await self._run("health", self._health)
        except Exception as exc:  # noqa: BLE001 - health reports, never raises
            return False, str(exc)

    def close(self) -> None:
        """Release the client (and its folder lock) and stop the worker thread; blocking."""
        if self._closed.is_set():
            return
        self._closed.set()

        def shut() -> None:
            if self._client is not None:
                self._close()
                self._client = None

        try:
            self._executor.submit(shut).result()
        except RuntimeError:  # interpreter shutdown: the worker is gone, so this thread is the only one
            shut()
        self._executor.shutdown(wait=True)
