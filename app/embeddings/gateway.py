"""Provider embeddings through the manager (and so the gateway), batched by the manager."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from app.core.results import EmbeddingResponse
from app.core.routing import Capability, Chain, Target
from app.embeddings.base import Embedder, normalise

# Known output sizes; another model's size is learnt from its first answer.
KNOWN_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "mistral-embed": 1024,
                    "BAAI/bge-base-en-v1.5": 768}


class EmbeddingClient(Protocol):
    """What the gateway embedder needs of the manager."""

    def chain(self, provider: str | None = None, model: str | None = None, fallbacks: list[str] | None = None,
              capability: Capability = Capability.CHAT) -> Chain:
        """The chain a call would use; raises ``ProviderNotConfiguredError`` when nothing is usable."""
        ...

    async def acreate_embedding(self, input: list[str], provider: str | None = None,
                                model: str | None = None) -> EmbeddingResponse:
        """Embeddings of ``input`` from ``provider``'s ``model``, through the gateway."""
        ...


class GatewayEmbedder(Embedder):
    """Embeddings of ``provider``'s model (default: the first configured provider that has one).

    The target is resolved on first use, so building one never fails for want of a key; using it
    then raises the manager's ``ProviderNotConfiguredError``.
    """

    def __init__(self, client: EmbeddingClient, provider: str | None = None, model: str | None = None) -> None:
        self._client = client
        self._requested = (provider, model)
        self._target: Target | None = None
        self._dimension = KNOWN_DIMENSIONS.get(model or "", 0)

    @property
    def target(self) -> Target:
        """The provider and model the vectors come from."""
        if self._target is None:
            chain = self._client.chain(*self._requested, fallbacks=[], capability=Capability.EMBEDDING)
            self._target = chain.primary
            self._dimension = self._dimension or KNOWN_DIMENSIONS.get(self._target.model, 0)
        return self._target

    @property
    def name(self) -> str:
        """``provider/model`` of the target; resolving it may raise ``ProviderNotConfiguredError``."""
        return self.target.label

    @property
    def dimension(self) -> int:
        """The model's output size: known in advance or learnt from the first answer (0 until then)."""
        return self._dimension

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One call through the manager (it batches and caches); vectors normalised to length 1."""
        if not texts:
            return []
        target = self.target
        response = await self._client.acreate_embedding(list(texts), provider=target.provider.name,
                                                        model=target.model)
        vectors = [normalise(v) for v in response.vectors]
        self._dimension = len(vectors[0])
        return vectors
