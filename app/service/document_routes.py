"""Document endpoints over the document store (``app.documents``).

    POST   /v1/documents                 multipart: file (+ optional source, metadata as JSON text)
                                         or JSON: {"text", "source", "metadata", "format"}
    GET    /v1/documents                 the sources stored
    GET    /v1/documents/search?q=...&limit=5&mode=hybrid&filters={"team":"finance"}
    DELETE /v1/documents/{source}        the source may contain slashes (URL-encode others)

The store is the service runtime's (``ServiceState.documents``, built by the lifespan); nothing is
opened until the first request that needs it.
"""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from app.core.errors import InvalidRequestError
from app.documents.parsing import format_for
from app.documents.store import DocumentStore
from app.service.deps import rate_limited
from app.service.state import StateDep

router = APIRouter(prefix="/v1/documents", dependencies=[Depends(rate_limited)])


async def _document_store(state: StateDep) -> DocumentStore:
    return state.documents


StoreDep = Annotated[DocumentStore, Depends(_document_store)]


class TextDocument(BaseModel):
    """A document sent as JSON text: its content, source name, metadata and format."""

    text: str
    source: str
    metadata: dict[str, Any] | None = None
    format: str | None = Field(None, description="text, markdown or html; default from the source's suffix")


def _metadata(raw: Any) -> dict[str, Any] | None:
    if raw is None or raw == "":
        return None
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        raise InvalidRequestError("metadata must be a JSON object, e.g. {\"team\": \"finance\"}") from None
    return value


@router.post("")
async def add_document(request: Request, store: StoreDep) -> dict[str, Any]:
    """Add (or replace) a source: a multipart upload (``file``, optional ``source`` and ``metadata`` as
    JSON text) or JSON ``{text, source, metadata, format}``. Answers the add's result: ``added``,
    ``replaced`` or ``unchanged``, with the chunk count."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InvalidRequestError("multipart uploads need a 'file' part")
        name = PurePath(upload.filename or "").name
        result = await store.add_bytes(await upload.read(), source=str(form.get("source") or name),
                                       metadata=_metadata(form.get("metadata")), format=format_for(name))
        return result.as_dict()
    try:
        body = TextDocument.model_validate(await request.json())
    except ValueError as exc:
        raise InvalidRequestError(f"send multipart with a 'file', or JSON {{text, source}}: {exc}") from None
    result = await store.add_text(body.text, source=body.source, metadata=body.metadata,
                                  format=body.format)  # type: ignore[arg-type]
    return result.as_dict()


@router.get("")
async def list_documents(store: StoreDep) -> dict[str, Any]:
    """The sources stored, sorted by name, with their chunk counts, format, title and metadata."""
    return {"object": "list", "data": [s.as_dict() for s in await store.sources()]}


@router.get("/search")
async def search_documents(store: StoreDep, q: Annotated[str, Query(description="the query")],
                           limit: int = 5, mode: str = "hybrid",
                           filters: Annotated[str | None, Query(description="JSON object of metadata equalities")]
                           = None) -> dict[str, Any]:
    """The chunks that best answer ``q``, best first (``mode``: hybrid, vector or keyword), each with its
    source, text, score, position and citation; ``filters`` are equalities on metadata."""
    hits = await store.search(q, limit=limit, filters=_metadata(filters), mode=mode)  # type: ignore[arg-type]
    return {"object": "list", "data": [h.as_dict() for h in hits]}


@router.delete("/{source:path}")
async def delete_document(source: str, store: StoreDep) -> dict[str, Any]:
    """Remove every chunk of ``source``; 404 when no such source is stored."""
    removed = await store.delete(source)
    if not removed:
        raise HTTPException(404, f"no document source {source!r}; GET /v1/documents lists them")
    return {"source": source, "deleted": True, "chunks": removed}
