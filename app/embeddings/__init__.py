"""Text embeddings behind one interface: through the gateway (provider models) or local (MiniLM).

    embedder = build_embedder(settings, manager)     # EMBEDDINGS=local (default) | gateway
    vectors = await embedder.embed(["some text", "more text"])   # unit-length float lists

The composition root (``app.runtime``) builds one per runtime; the cache and memory share it.
"""

from app.embeddings.base import Embedder
from app.embeddings.choice import build_embedder
from app.embeddings.gateway import GatewayEmbedder
from app.embeddings.local import LocalEmbedder

__all__ = ["Embedder", "GatewayEmbedder", "LocalEmbedder", "build_embedder"]
