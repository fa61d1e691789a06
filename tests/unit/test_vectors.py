"""The vector-store interface without engines: input checks, filter expressions, locations, probes."""

from __future__ import annotations

import os

import pytest

from app.core.errors import ConfigurationError, InvalidRequestError
from app.core.settings import load_settings
from app.vectors import COLLECTIONS, Point
from app.vectors.base import check_collection, check_filter, check_id, check_limit, check_point, check_vector
from app.vectors.milvus import expression, is_server_uri
from app.vectors.probes import store_probes
from app.vectors.registry import get_store, milvus_uri, qdrant_path
from app.vectors.weaviate import class_name

UUID = "6f1c3c52-3d0b-4c55-9a55-2a1f3f1d8e01"


STORE_VARS = ("SOPHIA_DATA_DIR", "QDRANT_PATH", "QDRANT_URL", "QDRANT_API_KEY", "MILVUS_URI", "WEAVIATE_URL",
              "VECTOR_STORE", "MEMORY_ENABLED", "MEMORY_TOP_K", "MEMORY_MAX_CHARS", "MEMORY_DEDUP_THRESHOLD")


@pytest.fixture(autouse=True)
def _no_store_settings_from_the_shell(monkeypatch):
    for var in STORE_VARS:
        monkeypatch.delenv(var, raising=False)


def settings(**kw):
    return load_settings(_env_file=None, **kw)


@pytest.mark.parametrize("bad", ["", "Agent_memory", "1x", "a-b", "x" * 64, None])
def test_collection_names_are_checked(bad):
    with pytest.raises(InvalidRequestError):
        check_collection(bad)


def test_filters_are_equality_on_plain_fields():
    assert check_filter(None) == {} and check_filter({"agent_id": "a", "n": 2}) == {"agent_id": "a", "n": 2}
    for bad in ({"id": "x"}, {"vector": 1}, {"a b": 1}, {"x": [1]}, {"x": None}, ["agent_id"]):
        with pytest.raises(InvalidRequestError):
            check_filter(bad)


def test_points_need_uuid_ids_finite_vectors_and_plain_payload_keys():
    assert check_point(Point(UUID.upper(), [1, 0], {"a": 1})).id == UUID
    for bad in (Point("agent-1", [1.0]), Point(UUID, []), Point(UUID, [float("nan")]), Point(UUID, [1.0], {"id": 1})):
        with pytest.raises(InvalidRequestError):
            check_point(bad)
    with pytest.raises(InvalidRequestError, match="3 dimensions"):
        check_vector([1, 2, 3], 384)
    with pytest.raises(InvalidRequestError):
        check_id("not-a-uuid")
    for bad in (0, 1001, True, "5"):
        with pytest.raises(InvalidRequestError):
            check_limit(bad)


def test_milvus_expressions_quote_values_as_literals():
    assert expression({}) == ""
    assert expression({"agent_id": 'a"b', "n": 3, "ok": True}) == 'agent_id == "a\\"b" and n == 3 and ok == true'
    assert is_server_uri("http://milvus:19530") and not is_server_uri("./data/milvus.db")


def test_weaviate_class_names_are_capitalised():
    assert class_name("sophia_knowledge") == "Sophia_knowledge"


def test_the_three_collections_document_their_payloads():
    assert list(COLLECTIONS) == ["artemis_tactical", "sophia_knowledge", "agent_memory"]
    for spec in COLLECTIONS.values():
        assert spec.description and set(spec.keyword_fields) <= set(spec.payload)
    assert {"agent_id", "domain", "role", "text", "source", "created_at"} <= set(COLLECTIONS["agent_memory"].payload)


def test_embedded_stores_live_under_the_data_dir(tmp_path):
    default = settings()
    assert qdrant_path(default) == os.path.abspath(os.path.join(".sophia", "qdrant"))
    assert milvus_uri(default) == os.path.abspath(os.path.join(".sophia", "milvus.db"))
    moved = settings(sophia_data_dir=str(tmp_path))
    assert qdrant_path(moved) == str(tmp_path / "qdrant") and milvus_uri(moved) == str(tmp_path / "milvus.db")
    explicit = settings(sophia_data_dir=str(tmp_path), qdrant_path=str(tmp_path / "q"), milvus_uri="http://m:19530")
    assert qdrant_path(explicit) == str(tmp_path / "q") and milvus_uri(explicit) == "http://m:19530"


def test_one_store_object_per_location(tmp_path):
    s = settings(sophia_data_dir=str(tmp_path))
    store = get_store(s)
    assert get_store(s) is store and store.kind == "qdrant-local" and not (tmp_path / "qdrant").exists()
    server = get_store(settings(qdrant_url="http://127.0.0.1:6333", qdrant_api_key="qk-secret-123456"))
    assert server.kind == "qdrant-server" and "qk-secret" not in server.location
    assert get_store(s, "milvus").kind == "milvus-lite"
    with pytest.raises(ConfigurationError) as info:
        get_store(s, "weaviate")
    assert info.value.env_vars == ("WEAVIATE_URL",)


def test_memory_and_store_settings_are_validated(monkeypatch):
    s = settings()
    assert (s.memory_enabled, s.memory_top_k, s.memory_max_chars, s.vector_store) == (True, 5, 2000, "qdrant")
    monkeypatch.setenv("VECTOR_STORE", "chroma")
    with pytest.raises(ConfigurationError) as info:
        settings()
    assert info.value.env_vars == ("VECTOR_STORE",)
    monkeypatch.setenv("VECTOR_STORE", "milvus")
    monkeypatch.setenv("MEMORY_DEDUP_THRESHOLD", "1.5")
    with pytest.raises(ConfigurationError, match="MEMORY_DEDUP_THRESHOLD"):
        settings()


def test_probes_are_configured_only_where_a_store_is(tmp_path):
    probes = store_probes(settings(sophia_data_dir=str(tmp_path)))
    assert list(probes) == ["redis", "qdrant", "weaviate", "milvus"]
    assert probes["qdrant"] is not None  # local mode is always there
    assert probes["redis"] is None and probes["milvus"] is None and probes["weaviate"] is None
    assert store_probes(settings(sophia_data_dir=str(tmp_path), vector_store="milvus"))["milvus"] is not None
    assert store_probes(settings(weaviate_url="http://127.0.0.1:8080"))["weaviate"] is not None
    assert store_probes(settings(redis_url="redis://127.0.0.1:6379/0"))["redis"] is not None


def test_the_runtime_memory_follows_the_settings(tmp_path):
    from app.runtime import build_runtime

    assert build_runtime(settings(memory_enabled=False)).memory is None
    runtime = build_runtime(settings(sophia_data_dir=str(tmp_path), memory_top_k=2, memory_max_chars=500))
    qdrant = runtime.memory
    assert qdrant.store.kind == "qdrant-local" and (qdrant.recall_limit, qdrant.recall_chars) == (2, 500)
    assert qdrant.embedder.inner is runtime.embedder  # one model for the cache and memory
    again = build_runtime(settings(sophia_data_dir=str(tmp_path), memory_top_k=2, memory_max_chars=500))
    assert again.memory.store is qdrant.store  # one client per folder: local mode locks it
    milvus = build_runtime(settings(sophia_data_dir=str(tmp_path), vector_store="milvus")).memory
    assert milvus.store.kind == "milvus-lite" and milvus.store.location == str(tmp_path / "milvus.db")
