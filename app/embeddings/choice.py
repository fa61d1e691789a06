"""Which embedder the settings ask for (``EMBEDDINGS``): the local model, or a provider's through the gateway."""

from __future__ import annotations

from typing import Any

from app.embeddings.base import Embedder
from app.embeddings.gateway import EmbeddingClient, GatewayEmbedder


def build_embedder(settings: Any, client: EmbeddingClient | None = None) -> Embedder:
    """``EMBEDDINGS=local`` (default): all-MiniLM-L6-v2 on the CPU, loaded on first use;
    ``EMBEDDINGS=gateway``: the first configured provider embedding model, called through ``client``."""
    if settings.embeddings == "gateway":
        if client is None:
            raise ValueError("EMBEDDINGS=gateway needs the manager to call (build it with app.runtime)")
        return GatewayEmbedder(client)
    from app.embeddings.local import LocalEmbedder

    return LocalEmbedder(threads=settings.sophia_embedding_threads)
