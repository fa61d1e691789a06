"""The composition root's documents: one store per runtime on the shared embedder, one backend per vector
store, grounding handed to the factories, a documents health probe, and Mem0's defaults (no engine opened)."""

from __future__ import annotations

import pytest

from app.artemis.portkey_unified_factory import ArtemisFactory
from app.core.settings import load_settings
from app.documents import get_document_store
from app.documents.qdrant_backend import QdrantDocuments
from app.documents.weaviate_backend import WeaviateDocuments
from app.memory import AsyncMemory
from app.runtime import build_runtime, process_runtime, use_settings
from app.sophia.portkey_unified_factory import SophiaFactory

STORE_VARS = ("SOPHIA_DATA_DIR", "QDRANT_PATH", "QDRANT_URL", "WEAVIATE_URL", "VECTOR_STORE", "MEMORY_ENABLED",
              "DOCUMENTS_TOP_K", "DOCUMENTS_MAX_CHARS", "DOCUMENTS_TIMEOUT")


@pytest.fixture(autouse=True)
def _no_store_settings_from_the_shell(monkeypatch):
    for var in STORE_VARS:
        monkeypatch.delenv(var, raising=False)


def settings(tmp_path, **kw):
    return load_settings(_env_file=None, sophia_data_dir=str(tmp_path), memory_enabled=False, **kw)


def test_the_runtime_builds_one_document_store_on_its_embedder(tmp_path):
    runtime = build_runtime(settings(tmp_path))
    documents = runtime.documents
    assert runtime.documents is documents and documents.embedder is runtime.embedder
    assert isinstance(documents.backend, QdrantDocuments) and documents.backend.location == str(tmp_path / "qdrant")
    assert documents.backend.store is runtime.vector_store  # one client per folder: local mode locks it
    other = build_runtime(settings(tmp_path))
    assert other.documents is not documents and other.documents.backend is documents.backend  # one keyword index
    weaviate = build_runtime(settings(tmp_path, weaviate_url="http://127.0.0.1:8080")).documents
    assert isinstance(weaviate.backend, WeaviateDocuments) and weaviate.backend.kind == "weaviate"
    assert documents.backend.store._client is None  # nothing was opened


def test_factories_get_the_runtime_grounding_and_health_probes_the_documents(tmp_path):
    runtime = build_runtime(settings(tmp_path, documents_top_k=3, documents_max_chars=1500, documents_timeout=2))
    sophia, artemis = runtime.factory(SophiaFactory), runtime.factory(ArtemisFactory)
    grounding = sophia.grounding
    assert grounding is not None and artemis.grounding is grounding and grounding.store is runtime.documents
    assert (grounding.top_k, grounding.max_chars, grounding.timeout) == (3, 1500, 2)
    assert "documents" in runtime.health.store_probes
    assert build_runtime(settings(tmp_path, documents_top_k=0)).factory(SophiaFactory).grounding is None


def test_the_facades_default_to_the_process_runtime(tmp_path):
    use_settings(settings(tmp_path))
    try:
        runtime = process_runtime()
        assert get_document_store() is runtime.documents
        memory = AsyncMemory()
        assert memory.store is runtime.vector_store and memory.embedder is runtime.embedder
        assert memory.db.path == str(tmp_path / "mem0_history.db")
        memory.close()
    finally:
        use_settings(None)
