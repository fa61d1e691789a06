"""Text embeddings behind one interface: through the gateway (provider models) or local (MiniLM).

    embedder = get_embedder()            # EMBEDDINGS=local|gateway, default local when installed
    vectors = await embedder.embed(["some text", "more text"])   # unit-length float lists
"""

from app.embeddings.base import Embedder, get_embedder
from app.embeddings.gateway import GatewayEmbedder
from app.embeddings.local import LocalEmbedder

__all__ = ["Embedder", "GatewayEmbedder", "LocalEmbedder", "get_embedder"]
