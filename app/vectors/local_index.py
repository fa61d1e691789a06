"""An in-process mirror of a Qdrant local-mode collection, for fast filtered search.

Qdrant's local mode checks a search filter in Python for every stored point (about 23 us a point:
232 ms at 10,000 points, against 14 ms for the same search unfiltered), and every agent's recall is
a filtered search. Local mode locks its folder to one client, so the process that holds it sees
every write: a mirror kept in step with each upsert and delete answers filtered searches with
numpy instead. Qdrant stays the store of record (persistence, scroll, count, get).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from app.vectors.base import Hit, Scalar


class LocalIndex:
    """The vectors (normalised for cosine) and payloads of one collection, in numpy arrays."""

    def __init__(self, dimension: int) -> None:
        self._dimension = dimension
        self._vectors = np.empty((64, dimension), dtype=np.float32)
        self._ids: list[str] = []
        self._payloads: list[dict[str, Any]] = []
        self._rows: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def upsert(self, points: Iterable[tuple[str, Sequence[float], Mapping[str, Any]]]) -> None:
        """Add the ``(id, vector, payload)`` points, replacing those whose ids are known."""
        for point_id, vector, payload in points:
            row = np.asarray(vector, dtype=np.float32)
            norm = float(np.linalg.norm(row))
            row = row / norm if norm else row  # cosine, as Qdrant computes it
            at = self._rows.get(point_id)
            if at is None:
                at = len(self._ids)
                if at == len(self._vectors):
                    self._vectors = np.concatenate([self._vectors, np.empty_like(self._vectors)])
                self._ids.append(point_id)
                self._payloads.append(dict(payload))
                self._rows[point_id] = at
            else:
                self._payloads[at] = dict(payload)
            self._vectors[at] = row

    def delete(self, ids: Iterable[str]) -> None:
        """Forget these ids; unknown ones are skipped."""
        for point_id in ids:
            at = self._rows.pop(point_id, None)
            if at is None:
                continue
            last = len(self._ids) - 1
            if at != last:  # move the last row into the hole
                self._vectors[at] = self._vectors[last]
                self._ids[at] = self._ids[last]
                self._payloads[at] = self._payloads[last]
                self._rows[self._ids[at]] = at
            self._ids.pop()
            self._payloads.pop()

    def _matching(self, where: Mapping[str, Scalar]) -> list[int]:
        items = tuple(where.items())
        return [i for i, p in enumerate(self._payloads) if all(p.get(k) == v for k, v in items)]

    def ids_matching(self, where: Mapping[str, Scalar]) -> list[str]:
        """The ids of the points whose payload holds every field of ``where``."""
        return [self._ids[i] for i in self._matching(where)]

    def search(self, vector: Sequence[float], limit: int, where: Mapping[str, Scalar]) -> list[Hit]:
        """The ``limit`` points matching ``where`` closest to ``vector`` (cosine), closest first."""
        rows = np.asarray(self._matching(where), dtype=np.int64) if where else np.arange(len(self._ids))
        if not len(rows):
            return []
        query = np.asarray(vector, dtype=np.float32)
        norm = float(np.linalg.norm(query))
        scores = self._vectors[rows] @ (query / norm if norm else query)
        top = np.argsort(-scores, kind="stable")[:limit]
        return [Hit(self._ids[rows[i]], float(scores[i]), dict(self._payloads[rows[i]])) for i in top]
