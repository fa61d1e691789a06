"""Provider embeddings through the manager (and so the gateway), batched by the manager."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.embeddings.base import Embedder, normalise

# Known output sizes; another model's size is learnt from its first answer.
KNOWN_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "mistral-embed": 1024,
                    "BAAI/bge-base-en-v1.5": 768}


class GatewayEmbedder(Embedder):
    def __init__(self, manager: Any = None, provider: str | None = None, model: str | None = None) -> None:
        if manager is None:
            from app.core.portkey_config import get_portkey_manager

            manager = get_portkey_manager()
        from app.core.routing import Capability

        chain = manager.chain(provider, model, fallbacks=[], capability=Capability.EMBEDDING)
        self._manager = manager
        self.provider = chain.primary.provider.name
        self.model = chain.primary.model
        self.name = f"{self.provider}/{self.model}"
        self.dimension = KNOWN_DIMENSIONS.get(self.model, 0)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        response = await self._manager.acreate_embedding(list(texts), provider=self.provider, model=self.model)
        vectors = [normalise(v) for v in response.vectors]
        self.dimension = len(vectors[0])
        return vectors
