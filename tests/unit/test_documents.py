"""Document parsing, chunking, BM25, fusion and input checks (no model, no store)."""

from __future__ import annotations

import itertools

import pytest

from app.core.errors import InvalidRequestError
from app.documents import ChunkingOptions, DocumentStore, chunk_document, parse
from app.documents.fusion import reciprocal_rank_fusion
from app.documents.inputs import check_filters, check_metadata, check_query
from app.documents.keywords import KeywordIndex, tokenize
from app.documents.parsing import format_for
from app.documents.qdrant_backend import QdrantDocuments
from app.embeddings.base import Embedder
from app.vectors.qdrant import QdrantStore
from bench import make_pdfs

MARKDOWN = """# Refund policy

Intro.

## Eligibility

Customers may ask within 30 days.

```bash
# a comment, not a heading
refund --all
```

### Exceptions

Annual plans are prorated.

## Contact

Write to billing.
"""


def test_markdown_sections_follow_headings_and_ignore_code():
    doc = parse(MARKDOWN, "markdown")
    assert doc.title == "Refund policy"
    assert [s.headings for s in doc.sections] == [
        ("Refund policy",), ("Refund policy", "Eligibility"), ("Refund policy", "Eligibility", "Exceptions"),
        ("Refund policy", "Contact")]
    assert doc.sections[1].paragraphs[1].startswith("```bash\n# a comment")


def test_html_keeps_headings_tables_and_text_but_drops_scripts_and_styles():
    html = ("<html><head><title>Pricing page</title><style>p{color:red}</style></head><body><nav>Home</nav>"
            "<h1>Pricing</h1><p>Starter costs <b>29&nbsp;USD</b>.</p><script>var secret = 1;</script>"
            "<h2>Limits</h2><table><tr><td>Dashboards</td><td>5</td></tr></table></body></html>")
    doc = parse(html, "html")
    assert doc.title == "Pricing page"
    assert [(s.headings, s.paragraphs) for s in doc.sections] == [
        ((), ("Home",)), (("Pricing",), ("Starter costs 29 USD.",)),
        (("Pricing", "Limits"), ("Dashboards | 5",))]


def test_plain_text_takes_lone_capitalised_lines_for_headings():
    doc = parse("GUEST WIFI\n\nUse the voucher.\n\nPrinters\n\nTap your badge.\n\nThe end.", "text")
    assert doc.title == "GUEST WIFI"
    assert [s.headings for s in doc.sections] == [("GUEST WIFI",), ("GUEST WIFI", "Printers")]
    assert parse("just one line", "text").sections[0].paragraphs == ("just one line",)


def test_the_corpus_pdfs_parse_with_title_headings_and_pages():
    doc = parse((make_pdfs.CORPUS / "security-awareness-training.pdf").read_bytes(), "pdf")
    assert doc.title == "Annual Security Awareness Training"
    assert ("Annual Security Awareness Training", "Phishing") in [s.headings for s in doc.sections]
    assert {s.page for s in doc.sections} == {1, 2}
    assert any("1Password" in p for s in doc.sections for p in s.paragraphs)


def test_committed_pdfs_are_what_the_generator_renders():
    for source, target in make_pdfs.targets().items():
        assert target.read_bytes() == make_pdfs.render(source.read_text(encoding="utf-8")), target.name


@pytest.mark.parametrize(("data", "message"), [
    (b"not a pdf at all", "not a readable PDF"),
    (make_pdfs.render("Title only"), "no text layer"),
])
def test_unreadable_pdfs_are_refused_with_a_reason(data, message):
    if message == "no text layer":
        data = data.replace(b"(Title only) Tj", b"")  # a page with nothing on it
    with pytest.raises(InvalidRequestError, match=message):
        parse(data, "pdf", "scan.pdf")


def test_text_must_be_utf8():
    with pytest.raises(InvalidRequestError, match="not UTF-8"):
        parse("caf\xe9".encode("latin-1"), "markdown", "notes.md")


def test_formats_come_from_suffixes():
    assert [format_for(n) for n in ("a.MD", "b.htm", "c.pdf", "d.txt", "e.docx", "noext")] == [
        "markdown", "html", "pdf", "text", None, None]


def test_chunks_stay_within_size_respect_sections_and_overlap():
    sentences = " ".join(f"Sentence {i} is about invoices and payment terms." for i in range(80))
    doc = parse(f"# A\n\n{sentences}\n\n# B\n\nShort section.", "markdown")
    options = ChunkingOptions(max_chars=400, overlap_chars=100)
    chunks = chunk_document(doc, options)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert all(len(c.text) <= 400 for c in chunks)
    assert chunks[-1].section == "B" and chunks[-1].text == "Short section."
    in_a = [c for c in chunks if c.section == "A"]
    assert len(in_a) > 5
    for before, after in itertools.pairwise(in_a):
        repeated = after.text.split("\n\n")[0]
        assert len(repeated) <= 100 and before.text.endswith(repeated), "consecutive chunks overlap"
    text = " ".join(c.text for c in in_a)
    assert all(f"Sentence {i} " in text for i in range(80)), "nothing is lost"


def test_chunking_options_are_checked():
    with pytest.raises(InvalidRequestError):
        ChunkingOptions(max_chars=50)
    with pytest.raises(InvalidRequestError):
        ChunkingOptions(max_chars=400, overlap_chars=300)


def test_tokens_are_stemmed_without_stop_words():
    assert tokenize("The refunds were REFUNDED, ERR-4012!") == ["refund", "refund", "err", "4012"]


def test_bm25_ranks_updates_and_filters():
    index = KeywordIndex()
    index.add([("a", "refund policy for annual plans", {"source": "refunds", "team": "finance"}),
               ("b", "deploy freeze on fridays", {"source": "deploys", "team": "eng"}),
               ("c", "refunds refunds refunds and deploys", {"source": "misc", "team": "eng"})])
    assert [i for i, _, _ in index.search("refund", 5)] == ["c", "a"]
    assert [i for i, _, _ in index.search("refund", 5, {"team": "finance"})] == ["a"]
    assert index.search("nothing matches this", 5) == []
    index.add([("c", "unrelated now", {"source": "misc", "team": "eng"})])  # an id already there is replaced
    assert [i for i, _, _ in index.search("refund", 5)] == ["a"]
    index.remove(index.ids_matching({"source": "refunds"}))
    assert index.search("refund", 5) == [] and len(index) == 2
    index.add([("d", "refund", {})])  # reuses a freed row
    assert [i for i, _, _ in index.search("refund", 5)] == ["d"]


def test_reciprocal_rank_fusion():
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "d"]], limit=3)
    assert [i for i, _ in fused] == ["b", "a", "d"]
    assert reciprocal_rank_fusion([["x"], ["x"]], limit=1) == [("x", 1.0)]


@pytest.mark.parametrize("metadata", [{"bad key": 1}, {"source": "x"}, {"format": "pdf"}, {"k": [1]},
                                      {"k": None}, {"k": float("nan")}, "team=a", {f"k{i}": 1 for i in range(40)}])
def test_bad_metadata_is_refused(metadata):
    with pytest.raises(InvalidRequestError):
        check_metadata(metadata)


def test_filters_allow_metadata_source_and_format():
    assert check_filters({"team": "a", "source": "x.md", "format": "pdf", "year": 2024}) == {
        "team": "a", "source": "x.md", "format": "pdf", "year": 2024}
    for bad in ({"a-b": 1}, {"team": {"in": ["a"]}}):
        with pytest.raises(InvalidRequestError):
            check_filters(bad)


@pytest.mark.parametrize(("query", "limit", "mode"), [("", 5, "hybrid"), ("q", 0, "hybrid"), ("q", 101, "hybrid"),
                                                      ("q", True, "hybrid"), ("q", 5, "fuzzy"), (None, 5, "vector")])
def test_bad_searches_are_refused(query, limit, mode):
    with pytest.raises(InvalidRequestError):
        check_query(query, limit, mode)


class NoEmbedder(Embedder):
    """Fails the test if anything asks it for a vector or its size."""

    name = "none"

    @property
    def dimension(self) -> int:
        raise AssertionError("the embedder was needed")

    async def embed(self, texts):
        raise AssertionError("the embedder was needed")


async def test_bad_input_is_refused_before_any_work(tmp_path):
    vectors = QdrantStore(path=tmp_path / "never-opened")
    store = DocumentStore(QdrantDocuments(vectors), NoEmbedder())
    (tmp_path / "notes.docx").write_bytes(b"x")
    attempts = [
        store.add_text("", source="a"), store.add_text("text", source=" "), store.add_text("t", source="a\nb"),
        store.add_text("t", source="a", metadata={"source": "b"}), store.add_file(tmp_path / "missing.md"),
        store.add_file(tmp_path / "notes.docx"), store.add_bytes(b"", source="a.pdf"),
        store.add_bytes(b"x", source="a.docx"), store.search("   "), store.search("q", filters={"a b": 1}),
        store.delete(""), store.add_text("t", source="report.pdf", format="pdf"),
    ]
    for attempt in attempts:
        with pytest.raises(InvalidRequestError):
            await attempt
    assert vectors._client is None  # the store was never opened
    vectors.close()
