"""Render the corpus's PDFs from ``bench/pdf_sources/*.txt`` with a minimal PDF writer (no dependency).

    python -m bench.make_pdfs           # rewrites bench/corpus/<name>.pdf

The first line of a source is the title (set as the PDF's /Title and printed larger); blank lines
separate paragraphs, which are wrapped to the page. The output is byte-for-byte reproducible (no
dates, no compression), which a test checks against the committed files. Text must be Latin-1.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

SOURCES = Path(__file__).with_name("pdf_sources")
CORPUS = Path(__file__).with_name("corpus")
LINES_PER_PAGE = 26  # short pages, so that every corpus PDF spans several
WRAP = 92


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _pages(title: str, paragraphs: list[str]) -> list[list[tuple[str, str]]]:
    """Lines as (font, text), split into pages; an empty text is a blank line."""
    lines: list[tuple[str, str]] = [("F2", title), ("F1", "")]
    for paragraph in paragraphs:
        lines.extend(("F1", line) for line in textwrap.wrap(paragraph, WRAP))
        lines.append(("F1", ""))
    return [lines[i:i + LINES_PER_PAGE] for i in range(0, len(lines), LINES_PER_PAGE)]


def _content(lines: list[tuple[str, str]]) -> bytes:
    ops = ["BT", "14 TL", "72 740 Td"]
    for font, text in lines:
        size = 16 if font == "F2" else 10
        ops.append(f"/{font} {size} Tf ({_escape(text)}) Tj T*")
    ops.append("ET")
    return "\n".join(ops).encode("latin-1")


def render(text: str) -> bytes:
    blocks = [" ".join(b.split()) for b in text.strip().split("\n\n")]
    title, paragraphs = blocks[0], blocks[1:]
    pages = _pages(title, paragraphs)
    objects: list[bytes] = []  # object n is objects[n - 1]
    page_ids = [6 + 2 * i for i in range(len(pages))]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{' '.join(f'{p} 0 R' for p in page_ids)}] /Count {len(pages)} >>"
                   .encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
    objects.append(f"<< /Title ({_escape(title)}) /Producer (bench.make_pdfs) >>".encode("latin-1"))
    for page_id, lines in zip(page_ids, pages, strict=True):
        content = _content(lines)
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R "
                       f"/F2 4 0 R >> >> /Contents {page_id + 1} 0 R >>".encode())
        objects.append(f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 5 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def targets() -> dict[Path, Path]:
    """Each source and the PDF it renders to."""
    return {source: CORPUS / f"{source.stem}.pdf" for source in sorted(SOURCES.glob("*.txt"))}


def main() -> None:
    for source, target in targets().items():
        target.write_bytes(render(source.read_text(encoding="utf-8")))
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
