"""Text, Markdown, HTML and PDF into sections of paragraphs, keeping headings (and PDF pages).

Markdown is read with markdown-it-py: a paragraph is one top-level block (a paragraph, a list, a
table, a code fence) taken verbatim from the source lines, so a `#` inside a code fence is never
taken for a heading. HTML is read with the standard library's parser (block elements end
paragraphs, ``h1``-``h6`` open sections, scripts and styles are dropped). PDFs are read with pypdf
in layout mode (blank lines end paragraphs), and every chunk knows its page; a PDF without a text
layer (a scan) is refused, since nothing here does OCR. Plain text and PDFs carry no markup, so
there a lone short capitalised line without closing punctuation is taken for a heading.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import PurePath
from typing import ClassVar

from app.core.errors import InvalidRequestError
from app.documents.models import Format, ParsedDocument, Section

SUFFIXES: dict[str, Format] = {
    ".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown", ".html": "html",
    ".htm": "html", ".pdf": "pdf",
}
_BLANK_LINES = re.compile(r"\n\s*\n")


def format_for(name: str) -> Format | None:
    """The format a file or source name implies by its suffix, or None when it implies none."""
    return SUFFIXES.get(PurePath(name).suffix.lower())


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidRequestError(f"{name} is not UTF-8 text; convert it to UTF-8 first") from None


def parse(data: bytes | str, fmt: Format, name: str = "the document") -> ParsedDocument:
    """A document's title and sections of paragraphs; ``name`` is what errors call it.

    Raises ``InvalidRequestError`` for text that is not UTF-8 and for a PDF without a text layer.
    """
    if fmt == "pdf":
        if isinstance(data, str):
            raise InvalidRequestError("PDF content must be given as bytes (use add_file for PDFs)")
        return _pdf(data, name)
    text = _decode(data, name) if isinstance(data, bytes) else data
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if fmt == "markdown":
        return _markdown(text)
    if fmt == "html":
        return _html(text)
    return _plain(text)


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in _BLANK_LINES.split(text) if p.strip()]


def _sections(parts: Iterable[tuple[tuple[str, ...], list[str], int | None]]) -> tuple[Section, ...]:
    return tuple(Section(headings, tuple(paragraphs), page) for headings, paragraphs, page in parts if paragraphs)


class _Outline:
    """Heading path bookkeeping shared by Markdown and HTML: a level-n heading replaces levels >= n."""

    def __init__(self) -> None:
        self.path: list[tuple[int, str]] = []
        self.parts: list[tuple[tuple[str, ...], list[str], int | None]] = [((), [], None)]

    def heading(self, level: int, text: str, page: int | None = None) -> None:
        while self.path and self.path[-1][0] >= level:
            self.path.pop()
        self.path.append((level, text))
        self.parts.append((tuple(t for _, t in self.path), [], page))

    def page(self, number: int) -> None:
        """A new PDF page: the section goes on, but its chunks from here on are on this page."""
        headings, paragraphs, _ = self.parts[-1]
        if paragraphs:
            self.parts.append((headings, [], number))
        else:
            self.parts[-1] = (headings, paragraphs, number)

    def paragraph(self, text: str) -> None:
        if text.strip():
            self.parts[-1][1].append(text.strip())

    def title(self) -> str | None:
        return next((headings[0] for headings, _, _ in self.parts if headings), None)


def _markdown(text: str) -> ParsedDocument:
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    lines = text.split("\n")
    outline = _Outline()
    for i, token in enumerate(tokens):
        if token.level != 0 or token.nesting == -1 or token.map is None:
            continue
        if token.type == "heading_open":
            inline = tokens[i + 1].content.strip() if i + 1 < len(tokens) else ""
            outline.heading(int(token.tag[1]), inline or "(untitled)")
        elif token.type != "hr":
            start, end = token.map
            outline.paragraph("\n".join(lines[start:end]))
    first = next((h for h, _, _ in outline.parts if len(h) == 1), None)
    return ParsedDocument("markdown", first[0] if first else None, _sections(outline.parts))


class _HtmlText(HTMLParser):
    _BLOCK = frozenset({"p", "div", "li", "ul", "ol", "section", "article", "header", "footer", "main", "aside",
                        "table", "tr", "pre", "blockquote", "br", "hr", "dd", "dt", "dl", "figure",
                        "figcaption", "form", "nav", "address", "details", "summary"})
    _SKIP = frozenset({"script", "style", "noscript", "template", "svg", "head", "iframe", "object"})
    _HEADINGS: ClassVar[dict[str, int]] = {f"h{n}": n for n in range(1, 7)}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.outline = _Outline()
        self.page_title: str | None = None
        self._skipping = 0
        self._in_title = False
        self._pre = 0
        self._buffer: list[str] = []
        self._heading: tuple[int, list[str]] | None = None

    def _flush(self) -> None:
        text = "".join(self._buffer)
        self._buffer = []
        if not self._pre:
            text = " ".join(text.split())
        self.outline.paragraph(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self._SKIP:
            self._skipping += 1
        elif tag in self._HEADINGS:
            self._flush()
            self._heading = (self._HEADINGS[tag], [])
        elif tag in self._BLOCK:
            self._flush()
            self._pre += tag == "pre"
        elif tag in ("td", "th") and self._buffer:
            self._buffer.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._HEADINGS and self._heading is not None:
            level, parts = self._heading
            self._heading = None
            self.outline.heading(level, " ".join("".join(parts).split()) or "(untitled)")
        elif tag in self._BLOCK:
            self._flush()
            self._pre -= tag == "pre" and self._pre > 0

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.page_title = " ".join(((self.page_title or "") + " " + data).split()) or None
        elif self._skipping:
            return
        elif self._heading is not None:
            self._heading[1].append(data)
        else:
            self._buffer.append(data)


def _html(text: str) -> ParsedDocument:
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    parser._flush()
    return ParsedDocument("html", parser.page_title or parser.outline.title(), _sections(parser.outline.parts))


def _looks_like_heading(block: str) -> bool:
    """PDFs carry no headings, only text: a lone short line, capitalised, without closing punctuation."""
    line = " ".join(block.split())
    return "\n" not in block.strip() and 0 < len(line) <= 80 and line[0].isupper() and line[-1] not in ".,;:!?"


def _plain(text: str) -> ParsedDocument:
    """Plain text: paragraphs at blank lines; a lone heading-like line opens a section (the first, the title)."""
    outline = _Outline()
    blocks = _paragraphs(text)
    for i, block in enumerate(blocks):
        if _looks_like_heading(block) and i + 1 < len(blocks):
            outline.heading(1 if i == 0 else 2, " ".join(block.split()))
        else:
            outline.paragraph(block)
    return ParsedDocument("text", outline.title() if blocks and _looks_like_heading(blocks[0]) else None,
                          _sections(outline.parts))


def _pdf(data: bytes, name: str) -> ParsedDocument:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InvalidRequestError(f"{name} is an encrypted PDF; remove the password first")
        # Layout mode keeps vertical gaps as blank lines, which is where paragraphs end.
        pages = [page.extract_text(extraction_mode="layout") or "" for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or None
    except (PdfReadError, ValueError, KeyError) as exc:
        if isinstance(exc, InvalidRequestError):
            raise
        raise InvalidRequestError(f"{name} is not a readable PDF ({type(exc).__name__}: {exc})") from None
    outline = _Outline()
    for number, page in enumerate(pages, start=1):
        outline.page(number)
        for block in _paragraphs(page):
            text = " ".join(block.replace("-\n", "").split())
            if _looks_like_heading(block):
                outline.heading(1 if text == title else 2, text, number)
            else:
                outline.paragraph(text)
    title = title or outline.title()
    sections = _sections(outline.parts)
    if not sections:
        raise InvalidRequestError(f"{name} has no text layer (a scanned PDF?); OCR is not supported")
    return ParsedDocument("pdf", title, sections)
