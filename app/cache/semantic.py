"""The semantic index: per scope, a matrix of unit prompt vectors and the cache keys they answer.

Kept in process memory (a numpy matrix per scope, one dot product per lookup: about a millisecond
at 10,000 entries). The answers themselves stay in the cache backend under their exact keys, so with
Redis a semantic hit still serves the shared answer, and an answer that expired or was evicted there
is simply a miss. The index is not shared between processes: each learns from the prompts it saw.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from app.cache.backends import Clock


@dataclass
class _Scope:
    vectors: np.ndarray
    expires: np.ndarray
    keys: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.keys)

    def append(self, key: str) -> int:
        row = self.size
        if row == self.vectors.shape[0]:
            self.vectors = np.resize(self.vectors, (row * 2, self.vectors.shape[1]))
            self.expires = np.resize(self.expires, row * 2)
        self.keys.append(key)
        self.rows[key] = row
        return row

    def remove(self, row: int) -> None:
        last = self.size - 1
        del self.rows[self.keys[row]]
        if row != last:  # move the last row into the hole
            self.vectors[row] = self.vectors[last]
            self.expires[row] = self.expires[last]
            self.keys[row] = self.keys[last]
            self.rows[self.keys[row]] = row
        self.keys.pop()


class SemanticIndex:
    """Prompt vectors per scope and the cache keys they answer; at most ``max_entries`` in all."""

    def __init__(self, max_entries: int = 10_000, clock: Clock = time.monotonic) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._scopes: dict[str, _Scope] = {}
        self._total = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._total

    def search(self, scope: str, vector: np.ndarray) -> tuple[str, float] | None:
        """The cache key of the closest live prompt in ``scope`` and its cosine similarity."""
        with self._lock:
            entries = self._scopes.get(scope)
            if entries is None or entries.size == 0:
                return None
            n = entries.size
            scores = entries.vectors[:n] @ vector
            scores[entries.expires[:n] <= self._clock()] = -np.inf
            best = int(np.argmax(scores))
            if not np.isfinite(scores[best]):
                return None
            return entries.keys[best], float(scores[best])

    def add(self, scope: str, vector: np.ndarray, key: str, ttl: float) -> None:
        """Index ``key`` under ``vector`` for ``ttl`` seconds (a known key gets the new vector and lifetime).

        When full, the entry that expires first goes.
        """
        expires = self._clock() + ttl
        with self._lock:
            entries = self._scopes.get(scope)
            if entries is None:
                entries = self._scopes[scope] = _Scope(np.empty((2, vector.shape[0]), np.float32),
                                                       np.empty(2, np.float64))
            row = entries.rows.get(key)  # known: a refreshed answer, same prompt, new lifetime
            if row is None:
                if self._total >= self.max_entries:
                    self._evict(entries)
                row = entries.append(key)
                self._total += 1
            entries.vectors[row] = vector
            entries.expires[row] = expires

    def discard(self, scope: str, key: str) -> None:
        """Forget ``key`` in ``scope`` (its answer has left the backend); a no-op if it is not there."""
        with self._lock:
            entries = self._scopes.get(scope)
            if entries is not None and key in entries.rows:
                entries.remove(entries.rows[key])
                self._total -= 1
                self._drop_if_empty(scope, entries)

    def _evict(self, preferred: _Scope) -> None:
        """Drop the entry that expires first (the oldest), from this scope or else the largest one."""
        victim = preferred if preferred.size else max(self._scopes.values(), key=lambda s: s.size)
        victim.remove(int(np.argmin(victim.expires[:victim.size])))
        self._total -= 1
        if victim is not preferred:
            scope = next(name for name, entries in self._scopes.items() if entries is victim)
            self._drop_if_empty(scope, victim)

    def _drop_if_empty(self, scope: str, entries: _Scope) -> None:
        # Scopes are fine-grained (system prompt, literals...): an emptied one must not linger, or
        # memory grows with the number of scopes ever seen rather than with CACHE_MAX_ENTRIES.
        if entries.size == 0:
            del self._scopes[scope]
