"""The embedder interface: texts in, unit-length vectors out."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence


class Embedder(ABC):
    """Turns texts into unit-length vectors of a fixed ``dimension``; ``name`` identifies the model.

    ``dimension`` may be 0 until the first answer tells it (a provider model of unknown size).
    """

    @property
    @abstractmethod
    def name(self) -> str:
        """Identifies the model: vectors of two names are not comparable."""

    @property
    @abstractmethod
    def dimension(self) -> int:
        """The length of every vector (0 while still unknown)."""

    @abstractmethod
    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order, each normalised to length 1 (so dot product = cosine)."""

    async def embed_one(self, text: str) -> list[float]:
        """The vector of one text."""
        return (await self.embed([text]))[0]


def normalise(vector: Sequence[float]) -> list[float]:
    """``vector`` scaled to length 1 (a zero vector stays as it is)."""
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector] if norm else list(vector)
