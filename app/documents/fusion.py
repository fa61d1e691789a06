"""Reciprocal rank fusion: combine rankings by rank, not by score.

Cosine similarities and BM25 scores live on unrelated scales (0..1 against 0..20 or more, varying
with the query's length), so adding them needs a normalisation that shifts with every query. RRF
(Cormack, Clarke and Buettcher, 2009) uses only each item's rank in each list: an item scores
``sum(1 / (k + rank))``, with k = 60 as in the paper (and in Weaviate's and Qdrant's own fusion).
"""

from __future__ import annotations

from collections.abc import Sequence

RRF_K = 60


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], limit: int, k: int = RRF_K) -> list[tuple[str, float]]:
    """The ``limit`` best ids with their fused score, scaled so 1.0 means first in every ranking.

    Ties keep the order in which the ids were first met (the first ranking wins).
    """
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    best = len(rankings) / (k + 1) if rankings else 1.0
    ordered = sorted(scores.items(), key=lambda pair: -pair[1])  # stable: first met wins ties
    return [(item, score / best) for item, score in ordered[:limit]]
