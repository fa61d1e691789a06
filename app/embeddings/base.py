"""The embedder interface and the process-wide choice of embedder."""

from __future__ import annotations

import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any


class Embedder(ABC):
    """Turns texts into unit-length vectors of a fixed ``dimension``; ``name`` identifies the model."""

    name: str
    dimension: int

    @abstractmethod
    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order, each normalised to length 1 (so dot product = cosine)."""

    async def embed_one(self, text: str) -> list[float]:
        return (await self.embed([text]))[0]


def built(embedder: Embedder | Callable[[], Embedder]) -> Embedder:
    """The embedder given, or the one a factory given in its place builds (so a model loads on first use)."""
    return embedder if isinstance(embedder, Embedder) else embedder()


def normalise(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector] if norm else list(vector)


_lock = threading.Lock()
_embedder: Embedder | None = None


def get_embedder(settings: Any = None) -> Embedder:
    """The process's embedder: EMBEDDINGS=local (default) uses all-MiniLM-L6-v2 on the CPU;
    EMBEDDINGS=gateway uses the first configured provider embedding model through the gateway."""
    global _embedder
    with _lock:
        if _embedder is None:
            import os

            choice = os.environ.get("EMBEDDINGS", "local").strip().lower()
            if choice == "gateway":
                from app.embeddings.gateway import GatewayEmbedder

                _embedder = GatewayEmbedder()
            elif choice == "local":
                from app.embeddings.local import LocalEmbedder

                _embedder = LocalEmbedder()
            else:
                from app.core.errors import ConfigurationError

                raise ConfigurationError(f"EMBEDDINGS must be 'local' or 'gateway', got {choice!r}",
                                         env_vars=["EMBEDDINGS"])
        return _embedder
