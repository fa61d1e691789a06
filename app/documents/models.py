"""What the document store takes in and hands back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Scalar = str | int | float | bool
Format = Literal["text", "markdown", "html", "pdf"]


@dataclass(frozen=True, slots=True)
class Section:
    """A run of paragraphs under one heading path (or one PDF page)."""

    headings: tuple[str, ...]
    paragraphs: tuple[str, ...]
    page: int | None = None


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """What a parser makes of a source: its format, title (if it has one) and sections."""

    format: Format
    title: str | None
    sections: tuple[Section, ...]


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a source: what is embedded, keyword-indexed and returned by a search."""

    index: int
    """0-based position of the chunk in its source."""
    text: str
    section: str
    """The heading path, e.g. ``Refund policy > Eligibility`` (empty when the source has no headings)."""
    page: int | None = None
    """1-based PDF page the chunk starts on."""

    def searchable(self, title: str | None) -> str:
        """What is embedded and keyword-indexed: the title and heading path give a chunk its context."""
        if title and self.section.startswith(title):
            head = self.section  # the Markdown/HTML title is the first heading already
        else:
            head = " > ".join(part for part in (title, self.section) if part)
        return f"{head}\n\n{self.text}" if head else self.text


@dataclass(frozen=True, slots=True)
class DocumentHit:
    """A chunk found by a search: its source, text, score, position, and its ``citation``."""

    source: str
    chunk: str
    score: float
    """Hybrid: the reciprocal-rank-fusion score scaled so 1.0 means ranked first by both methods.
    Vector-only: cosine similarity. Keyword-only: the BM25 score."""
    index: int
    chunks: int
    """How many chunks the source has (``index`` runs from 0 to ``chunks - 1``)."""
    section: str
    page: int | None
    title: str | None
    format: str
    metadata: dict[str, Scalar] = field(default_factory=dict)

    @property
    def citation(self) -> str:
        """``source#index`` (plus the page for PDFs): how an answer points at this chunk."""
        page = f" p.{self.page}" if self.page is not None else ""
        return f"{self.source}#{self.index}{page}"

    def as_dict(self) -> dict[str, Any]:
        """The hit as JSON, citation included."""
        return {"source": self.source, "chunk": self.chunk, "score": self.score, "index": self.index,
                "chunks": self.chunks, "section": self.section, "page": self.page, "title": self.title,
                "format": self.format, "metadata": dict(self.metadata), "citation": self.citation}


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """A stored source's current version: chunk count, format, title, content hash, time added, metadata."""

    source: str
    chunks: int
    format: str
    title: str | None
    content_hash: str
    added_at: str
    """ISO-8601 UTC of the last time the content changed."""
    metadata: dict[str, Scalar] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The source's record as JSON."""
        return {"source": self.source, "chunks": self.chunks, "format": self.format, "title": self.title,
                "content_hash": self.content_hash, "added_at": self.added_at, "metadata": dict(self.metadata)}


@dataclass(frozen=True, slots=True)
class AddResult:
    """What an add did to a source: ``added``, ``replaced`` or ``unchanged``, and how many chunks it has."""

    source: str
    status: Literal["added", "replaced", "unchanged"]
    chunks: int
    content_hash: str

    def as_dict(self) -> dict[str, Any]:
        """The result as JSON."""
        return {"source": self.source, "status": self.status, "chunks": self.chunks,
                "content_hash": self.content_hash}
