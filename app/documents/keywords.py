"""Keyword scoring for the Qdrant backend: Okapi BM25 over an in-process inverted index.

Why our own ~100 lines and not a library: chunks come and go one source at a time, and both BM25
libraries we considered index a fixed corpus. bm25s (fast, maintained) precomputes every score with
the corpus-wide IDF and average length, so adding or replacing one source means re-indexing all of
them (measured: see the README's Documents section); rank-bm25 also builds once, is unmaintained
since 2022, and scores each query in a Python loop over every document. Here a posting list per
term is updated in place, and BM25 is computed at query time over the query terms' postings only
(numpy), with the IDF and average length of the moment, so adds and deletes cost their own size.
Tokens are lower-cased words and numbers, minus a short stop list, Snowball-stemmed (PyStemmer),
so "refunds" finds "refunded".
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from app.documents.models import Scalar

_WORD = re.compile(r"[a-z0-9]+")
STOP_WORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "do", "does", "for", "from", "has",
    "have", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "no", "not", "of", "on",
    "or", "our", "so", "than", "that", "the", "their", "then", "there", "these", "they", "this", "to",
    "was", "we", "were", "what", "when", "where", "which", "who", "why", "will", "with", "you", "your",
})

_stemmer_lock = threading.Lock()
_stemmer: Any = None


def tokenize(text: str) -> list[str]:
    """The terms of ``text``: lower-cased words and numbers, stop words left out, Snowball-stemmed."""
    global _stemmer
    words = [w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS]
    with _stemmer_lock:  # a PyStemmer object is not thread-safe
        if _stemmer is None:
            import Stemmer

            _stemmer = Stemmer.Stemmer("english")
        return _stemmer.stemWords(words)


class KeywordIndex:
    """BM25 (k1, b) over chunks keyed by id, each with a payload for equality filters."""

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._lock = threading.Lock()
        self._rows: dict[str, int] = {}
        self._ids: list[str | None] = []
        self._payloads: list[Mapping[str, Any]] = []
        self._terms: list[tuple[str, ...]] = []
        self._lengths = np.zeros(64, dtype=np.float32)
        self._postings: dict[str, dict[int, int]] = {}
        self._free: list[int] = []
        self._total_length = 0.0

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, items: Iterable[tuple[str, str, Mapping[str, Any]]]) -> None:
        """Index (id, text, payload) triples; an id already present is replaced."""
        tokenized = [(item_id, Counter(tokenize(text)), payload) for item_id, text, payload in items]
        with self._lock:
            self._remove_locked([item_id for item_id, _, _ in tokenized])
            for item_id, counts, payload in tokenized:
                row = self._free.pop() if self._free else len(self._ids)
                if row == len(self._ids):
                    self._ids.append(None)
                    self._payloads.append({})
                    self._terms.append(())
                    if row == len(self._lengths):
                        self._lengths = np.concatenate([self._lengths, np.zeros_like(self._lengths)])
                length = sum(counts.values())
                self._ids[row], self._payloads[row], self._terms[row] = item_id, dict(payload), tuple(counts)
                self._lengths[row] = length
                self._total_length += length
                self._rows[item_id] = row
                for term, tf in counts.items():
                    self._postings.setdefault(term, {})[row] = tf

    def remove(self, ids: Iterable[str]) -> None:
        """Forget the chunks of these ids (unknown ids are ignored)."""
        with self._lock:
            self._remove_locked(ids)

    def _remove_locked(self, ids: Iterable[str]) -> None:
        for item_id in ids:
            row = self._rows.pop(item_id, None)
            if row is None:
                continue
            for term in self._terms[row]:
                postings = self._postings[term]
                del postings[row]
                if not postings:
                    del self._postings[term]
            self._total_length -= float(self._lengths[row])
            self._lengths[row] = 0
            self._ids[row], self._payloads[row], self._terms[row] = None, {}, ()
            self._free.append(row)

    def ids_matching(self, where: Mapping[str, Scalar]) -> list[str]:
        """The ids of the chunks whose payload has every field of ``where`` equal."""
        with self._lock:
            return [self._ids[row] for row in self._matching_rows(where)]  # type: ignore[misc]

    def _matching_rows(self, where: Mapping[str, Scalar]) -> list[int]:
        items = tuple(where.items())
        return [row for row in self._rows.values() if all(self._payloads[row].get(k) == v for k, v in items)]

    def search(self, query: str, limit: int, where: Mapping[str, Scalar] | None = None,
               ) -> list[tuple[str, float, dict[str, Any]]]:
        """The ``limit`` best (id, BM25 score, payload) for ``query``; only chunks sharing a term score."""
        terms = set(tokenize(query))
        with self._lock:
            count = len(self._rows)
            if not count or not terms:
                return []
            scores = np.zeros(len(self._ids), dtype=np.float32)
            average = self._total_length / count
            for term in terms:
                postings = self._postings.get(term)
                if not postings:
                    continue
                rows = np.fromiter(postings.keys(), dtype=np.int64, count=len(postings))
                tf = np.fromiter(postings.values(), dtype=np.float32, count=len(postings))
                idf = math.log(1.0 + (count - len(postings) + 0.5) / (len(postings) + 0.5))
                norm = self.k1 * (1.0 - self.b + self.b * self._lengths[rows] / average)
                scores[rows] += idf * tf * (self.k1 + 1.0) / (tf + norm)
            if where:
                allowed = np.zeros_like(scores, dtype=bool)
                allowed[self._matching_rows(where)] = True
                scores[~allowed] = 0.0
            candidates = np.flatnonzero(scores > 0)
            if len(candidates) > limit:
                candidates = candidates[np.argpartition(-scores[candidates], limit - 1)[:limit]]
            ranked = candidates[np.argsort(-scores[candidates], kind="stable")]
            return [(self._ids[row], float(scores[row]), dict(self._payloads[row])) for row in ranked]
