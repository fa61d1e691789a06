"""Deterministic stand-in embedding vectors.

A vector is a pure function of (text, dimension): sha256 of the text seeds a SHAKE-256
stream that is read as int16 samples and scaled to unit length. Identical texts therefore
get identical vectors across runs and providers, different texts get near-orthogonal ones.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from typing import Any

import numpy as np

from .answers import count_tokens
from .providers import embedding_dim


@lru_cache(maxsize=4096)
def _vector(text: str, dim: int) -> np.ndarray:
    seed = hashlib.sha256(text.encode("utf-8")).digest()
    raw = hashlib.shake_256(seed).digest(2 * dim)
    vec = np.frombuffer(raw, dtype="<i2").astype(np.float64)
    norm = float(np.linalg.norm(vec)) or 1.0
    vec /= norm
    vec.setflags(write=False)
    return vec


def _embedding_vector(text: str, dim: int) -> list[float]:
    return np.round(_vector(text, dim), 8).tolist()


def _encoded(text: str, dim: int, encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":
        # The OpenAI SDK asks for base64 by default: little-endian float32, like the real API.
        return base64.b64encode(_vector(text, dim).astype("<f4").tobytes()).decode("ascii")
    return _embedding_vector(text, dim)


def normalise_inputs(raw: Any) -> list[str] | None:
    """The texts of an embeddings request's ``input``; None when it is not a string or a list of strings."""
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw):
        return raw
    return None


def embeddings_response(model: str, inputs: list[str], dimensions: Any, encoding_format: Any) -> dict:
    """OpenAI's embeddings answer: a deterministic unit vector per text.

    ``dimensions`` shortens the vectors (when smaller than the model's); ``encoding_format`` is ``float``
    or ``base64``.
    """
    dim = embedding_dim(model)
    if isinstance(dimensions, int) and not isinstance(dimensions, bool) and 0 < dimensions < dim:
        dim = dimensions
    fmt = encoding_format if encoding_format in ("float", "base64") else "float"
    tokens = sum(count_tokens(t) for t in inputs)
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": _encoded(text, dim, fmt)}
            for i, text in enumerate(inputs)
        ],
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
