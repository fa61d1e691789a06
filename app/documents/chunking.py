"""Sections into chunks that respect headings and paragraphs, with overlap.

A chunk never spans two sections (a heading always starts a new chunk), and paragraphs are packed
whole while they fit in ``max_chars``. A paragraph too long for one chunk is split at line breaks,
then sentence ends, then spaces. Consecutive chunks of a section overlap: the next chunk starts
with the last paragraphs (or sentences) of the previous one, up to ``overlap_chars``, so a fact
that straddles a boundary is whole in one of them.

The default of 1,000 characters keeps a chunk, with its heading path, inside the 256 word pieces
all-MiniLM-L6-v2 reads (it truncates beyond that): English prose runs about 4-5 characters a piece.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.core.errors import InvalidRequestError
from app.documents.models import Chunk, ParsedDocument

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")
_JOIN = "\n\n"


@dataclass(frozen=True, slots=True)
class ChunkingOptions:
    """How documents are cut: chunks of at most ``max_chars``, overlapping by up to ``overlap_chars``."""

    max_chars: int = 1000
    overlap_chars: int = 150

    def __post_init__(self) -> None:
        if self.max_chars < 100:
            raise InvalidRequestError(f"max_chars must be at least 100, got {self.max_chars}")
        if not 0 <= self.overlap_chars <= self.max_chars // 2:
            raise InvalidRequestError(f"overlap_chars must be from 0 to max_chars / 2, got {self.overlap_chars}")

    @property
    def signature(self) -> str:
        """Part of a source's content hash: changing the chunking re-chunks on the next add."""
        return f"chunks:{self.max_chars}:{self.overlap_chars}"


def _split(text: str, limit: int) -> list[str]:
    """Pieces of at most ``limit`` characters, cut at the coarsest boundary that works."""
    if len(text) <= limit:
        return [text]
    for pattern in (re.compile(r"\n"), _SENTENCE_END, re.compile(r" ")):
        parts = [p for p in pattern.split(text) if p.strip()]
        if len(parts) > 1:
            sep = "\n" if pattern.pattern == r"\n" else " "
            pieces: list[str] = []
            for part in parts:
                for piece in _split(part.strip(), limit):
                    if pieces and len(pieces[-1]) + len(sep) + len(piece) <= limit:
                        pieces[-1] += sep + piece
                    else:
                        pieces.append(piece)
            return pieces
    return [text[i:i + limit] for i in range(0, len(text), limit)]


def _tail(units: list[str], budget: int) -> list[str]:
    """The end of a chunk to repeat at the start of the next: whole units, else trailing sentences."""
    kept: list[str] = []
    size = 0
    for unit in reversed(units):
        if size + len(unit) + len(_JOIN) > budget:
            break
        kept.insert(0, unit)
        size += len(unit) + len(_JOIN)
    if kept or not units:
        return kept
    sentences = _SENTENCE_END.split(units[-1])
    tail: list[str] = []
    for sentence in reversed(sentences[1:]):  # never the whole unit: that would repeat it entire
        if sum(len(s) + 1 for s in tail) + len(sentence) > budget:
            break
        tail.insert(0, sentence)
    return [" ".join(tail)] if tail else []


def chunk_document(document: ParsedDocument, options: ChunkingOptions | None = None) -> list[Chunk]:
    """The document's chunks in order: never across a heading, whole paragraphs packed together, long
    paragraphs split at lines, sentences, then words; each chunk of a section overlaps the one before."""
    options = options or ChunkingOptions()
    chunks: list[Chunk] = []
    for section in document.sections:
        label = " > ".join(section.headings)
        # Long paragraphs are cut a little shorter than a chunk, so the overlap still fits before them.
        unit_limit = options.max_chars - options.overlap_chars - len(_JOIN)
        units = [piece for paragraph in section.paragraphs for piece in _split(paragraph, unit_limit)]
        current: list[str] = []
        fresh = False  # does ``current`` hold anything not yet emitted?
        for unit in units:
            if fresh and len(_JOIN.join([*current, unit])) > options.max_chars:
                chunks.append(Chunk(len(chunks), _JOIN.join(current), label, section.page))
                current = _tail(current, options.overlap_chars)
                if len(_JOIN.join([*current, unit])) > options.max_chars:
                    current = []
            current.append(unit)
            fresh = True
        if fresh:
            chunks.append(Chunk(len(chunks), _JOIN.join(current), label, section.page))
    return chunks
