"""Documents as a user reaches them: `sophia docs ...` in a subprocess, and /v1/documents over HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.service import ServiceConfig, create_app
from app.vectors.registry import close_stores
from bench.retrieval import CORPUS
from tests.e2e.conftest import SOPHIA, make_settings

pytestmark = pytest.mark.e2e


def sophia_docs(*args: str, data: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOPHIA_DATA_DIR": str(data), "QDRANT_PATH": str(data / "qdrant"), "COLUMNS": "200"}
    return subprocess.run([str(SOPHIA), "docs", *args], check=False, env=env, capture_output=True, text=True,
                          timeout=240, cwd=data)


def test_cli_adds_searches_lists_and_removes(tmp_path):
    folder = tmp_path / "handbook"
    folder.mkdir()
    for name in ("refund-policy.md", "careers-benefits.html", "msa-summary.pdf", "expense-card-faq.txt"):
        (folder / name).write_bytes((CORPUS / name).read_bytes())
    (folder / "ignored.docx").write_bytes(b"not picked up from a folder")
    added = sophia_docs("add", "handbook", "--meta", "team=people", data=tmp_path)
    assert added.returncode == 0, added.stderr
    assert "4 file(s) stored, 0 skipped" in added.stdout and "handbook/msa-summary.pdf" in added.stdout
    again = sophia_docs("add", "handbook/refund-policy.md", data=tmp_path)
    assert "replaced" in again.stdout, "different metadata: a new version"  # and unchanged below
    assert "unchanged" in sophia_docs("add", "handbook/refund-policy.md", data=tmp_path).stdout

    found = sophia_docs("search", "What are the standard payment terms on our invoices?", "--json", "-n", "2",
                        data=tmp_path)
    hits = json.loads(found.stdout)
    assert hits[0]["source"] == "handbook/msa-summary.pdf" and hits[0]["page"] == 1
    filtered = json.loads(sophia_docs("search", "refund", "--json", "--filter", "format=html",
                                      data=tmp_path).stdout)
    assert {h["source"] for h in filtered} == {"handbook/careers-benefits.html"}
    shown = sophia_docs("search", "lost corporate card", data=tmp_path).stdout
    assert "1. handbook/expense-card-faq.txt#" in shown

    listed = json.loads(sophia_docs("list", "--json", data=tmp_path).stdout)
    assert [s["source"] for s in listed] == sorted(f"handbook/{p.name}" for p in folder.iterdir()
                                                   if p.suffix != ".docx")
    removed = sophia_docs("rm", "handbook/msa-summary.pdf", data=tmp_path)
    assert removed.returncode == 0 and "removed handbook/msa-summary.pdf" in removed.stdout
    missing = sophia_docs("rm", "handbook/msa-summary.pdf", data=tmp_path)
    assert missing.returncode == 1 and "no source" in missing.stderr
    bad = sophia_docs("add", "handbook/ignored.docx", data=tmp_path)
    assert bad.returncode == 1 and "unsupported file type" in bad.stdout


@contextlib.asynccontextmanager
async def running(settings: Any, config: ServiceConfig) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, config)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=60) as client:
                yield client
    finally:
        close_stores()  # release the Qdrant folder


async def test_http_upload_search_list_and_delete(e2e_env, tmp_path):
    settings = make_settings(e2e_env, database_url=f"sqlite+aiosqlite:///{tmp_path}/a.db", memory_enabled=False,
                             sophia_data_dir=str(tmp_path), qdrant_path=str(tmp_path / "qdrant"))
    async with running(settings, ServiceConfig(health_interval=0)) as client:
        text = await client.post("/v1/documents", json={
            "text": "# On-call\n\nEach week on call pays a flat 400 USD.", "source": "team/oncall.md",
            "metadata": {"team": "eng"}})
        assert text.status_code == 200 and text.json()["status"] == "added", text.text
        pdf = await client.post("/v1/documents", files={"file": ("msa.pdf", (CORPUS / "msa-summary.pdf").read_bytes(),
                                                                  "application/pdf")},
                                data={"metadata": json.dumps({"team": "legal"})})
        assert pdf.status_code == 200 and pdf.json()["source"] == "msa.pdf" and pdf.json()["chunks"] >= 5

        found = await client.get("/v1/documents/search", params={"q": "How much is on-call paid?", "limit": 1})
        [hit] = found.json()["data"]
        assert hit["source"] == "team/oncall.md" and hit["section"] == "On-call" and hit["metadata"] == {"team": "eng"}
        legal = await client.get("/v1/documents/search",
                                 params={"q": "payment", "filters": json.dumps({"team": "legal"})})
        assert {h["source"] for h in legal.json()["data"]} == {"msa.pdf"}
        listed = await client.get("/v1/documents")
        assert [s["source"] for s in listed.json()["data"]] == ["msa.pdf", "team/oncall.md"]
        tile = (await client.get("/api/dashboard")).json()["documents"]
        latest = max(s["added_at"] for s in listed.json()["data"])
        assert tile == {"sources": 2, "chunks": pdf.json()["chunks"] + 1, "last_added_at": latest, "error": None}
        health = (await client.get("/health")).json()
        assert health["vector_databases"]["documents"] is True
        assert "2 source(s)" in health["details"]["vector_databases"]["documents"]["reason"]

        gone = await client.delete("/v1/documents/team/oncall.md")
        assert gone.status_code == 200 and gone.json() == {"source": "team/oncall.md", "deleted": True, "chunks": 1}
        again = await client.delete("/v1/documents/team/oncall.md")
        assert again.status_code == 404 and again.json()["error"]["type"] == "not_found_error"

        for bad in (client.post("/v1/documents", json={"text": "", "source": "x"}),
                    client.post("/v1/documents", json={"text": "x", "source": "x", "metadata": {"a b": 1}}),
                    client.post("/v1/documents", files={"file": ("notes.docx", b"x")}),
                    client.get("/v1/documents/search", params={"q": "x", "limit": 0}),
                    client.get("/v1/documents/search", params={"q": "x", "filters": "{not json"})):
            response = await bad
            assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_request"


async def test_http_documents_need_the_token_when_auth_is_on(e2e_env, tmp_path):
    settings = make_settings(e2e_env, database_url=f"sqlite+aiosqlite:///{tmp_path}/a.db", memory_enabled=False,
                             sophia_data_dir=str(tmp_path), qdrant_path=str(tmp_path / "qdrant"))
    config = ServiceConfig(api_keys=frozenset({"tok-docs"}), require_auth=True, health_interval=0)
    async with running(settings, config) as client:
        for request in (client.get("/v1/documents"), client.get("/v1/documents/search", params={"q": "x"}),
                        client.delete("/v1/documents/a.md"), client.post("/v1/documents", json={})):
            assert (await request).status_code == 401
        listed = await client.get("/v1/documents", headers={"Authorization": "Bearer tok-docs"})
        assert listed.status_code == 200 and listed.json()["data"] == []
