"""Fixtures of the memory tests: the real local embedder and real embedded engines on temp folders.

Engines are opened once per module (Milvus Lite starts a child process, ~2 s); tests stay apart by
using fresh agent ids. Memory in the factories is passed in explicitly, never taken from settings.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.embeddings import LocalEmbedder
from app.gateway.process import free_port
from app.memory import AgentMemory, BatchingEmbedder
from app.vectors.base import VectorStore
from app.vectors.milvus import MilvusStore
from app.vectors.qdrant import QdrantStore

ENGINES = ["qdrant-local", "milvus-lite"]


def open_engine(kind: str, folder: Path) -> VectorStore:
    if kind == "qdrant-local":
        return QdrantStore(path=folder / "qdrant")
    return MilvusStore(folder / "milvus.db")


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    return free_port()


@pytest.fixture(scope="session")
def local_embedder() -> LocalEmbedder:
    """The real local model, loaded once for the memory tests."""
    return LocalEmbedder()


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VectorStore]:
    store = open_engine(request.param, tmp_path_factory.mktemp(request.param))
    yield store
    store.close()


@pytest.fixture
def memory(engine: VectorStore, local_embedder: LocalEmbedder) -> AgentMemory:
    return AgentMemory(engine, BatchingEmbedder(local_embedder))


@pytest.fixture
def agent_ids() -> list[str]:
    return [str(uuid.uuid4()) for _ in range(3)]
