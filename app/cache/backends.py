"""Where cached answers live: the embedded default (a bounded in-process LRU with TTL).

Backends store opaque bytes under string keys. They never raise on a lookup or a store: a broken
store costs the caller its cache, never its request.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence

from cachetools import TLRUCache

Clock = Callable[[], float]


class CacheBackend(ABC):
    """A store of opaque bytes under string keys, with a lifetime per value; never raises."""

    name: str

    @abstractmethod
    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The value of each key, None where missing, expired or unreadable."""

    @abstractmethod
    async def set_many(self, items: Mapping[str, bytes], ttl: float) -> None:
        """Store each value for ``ttl`` seconds."""

    async def get(self, key: str) -> bytes | None:
        """The value of one key, or None."""
        return (await self.get_many([key]))[0]

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        """Store one value for ``ttl`` seconds."""
        await self.set_many({key: value}, ttl)

    async def aclose(self) -> None:
        """Release the running loop's connections (nothing to release by default)."""
        return None


class MemoryBackend(CacheBackend):
    """At most ``max_entries`` values; the least recently used goes first, expired ones on sight.

    A ``cachetools.TLRUCache`` (per-entry lifetimes, LRU eviction) behind a lock: the sync API drives
    the same manager from its bridge thread.
    """

    name = "memory"

    def __init__(self, max_entries: int = 10_000, clock: Clock = time.monotonic) -> None:
        self.max_entries = max_entries
        # Each value is stored with its own expiry time, which is what ``ttu`` hands back.
        self._data: TLRUCache[str, tuple[float, bytes]] = TLRUCache(
            maxsize=max_entries, ttu=lambda _key, value, _now: value[0], timer=clock)
        self._clock = clock
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            self._data.expire()
            return len(self._data)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The value of each key, None where missing or expired; a hit counts as recently used."""
        with self._lock:
            return [entry[1] if (entry := self._data.get(key)) is not None else None for key in keys]

    async def set_many(self, items: Mapping[str, bytes], ttl: float) -> None:
        """Store each value for ``ttl`` seconds, evicting the least recently used beyond ``max_entries``."""
        expires = self._clock() + ttl
        with self._lock:
            for key, value in items.items():
                self._data[key] = (expires, value)
