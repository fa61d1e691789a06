"""Sticky variant assignment: the same key gets the same variant, in every process and instance.

The key (a user id, say) and the experiment's salt are hashed with SHA-256 (never Python's
``hash()``, which is salted per process); the first 8 bytes, read as a number in [0, 1), fall into
one variant's share of the cumulative weights. Changing the weights moves only the keys near the
boundaries that moved; changing the salt reshuffles everyone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def unit_interval(salt: str, key: str) -> float:
    """A number in [0, 1) determined by ``salt`` and ``key`` alone, uniformly spread."""
    digest = hashlib.sha256(f"{salt}\x1f{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def sticky_choice(salt: str, key: str, weights: Sequence[float]) -> int:
    """The index of the variant ``key`` is assigned to (variants of weight 0 never are)."""
    total = sum(weights)
    point = unit_interval(salt, key) * total
    last = 0
    for index, weight in enumerate(weights):
        if weight <= 0:
            continue
        last = index
        if point < weight:
            return index
        point -= weight
    return last  # rounding at the top end
