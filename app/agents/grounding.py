"""Agents grounded on the document store: the chunks closest to the question go into the prompt,
labelled by citation, and the result cites them.

Which roles are grounded is data (``grounded: true`` in the routing file). Retrieval degrades
like memory does: a store or embedder that fails or is too slow costs that call its documents, never
the request (one warning per outage, a count in ``sophia_documents_degraded_total``, and the store
is left alone for ``RETRY_AFTER`` seconds).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from app.core.outage import Outage
from app.memory.guard import WARM_UP_TIMEOUT
from app.memory.prompting import with_system_block
from app.vectors.metrics import DOCUMENTS_DEGRADED

if TYPE_CHECKING:  # the document store imports numpy and the parsers: only the runtime loads it
    from app.documents.models import DocumentHit
    from app.documents.store import DocumentStore

log = logging.getLogger("app.documents")

RETRY_AFTER = 30.0
"""Seconds retrieval is skipped after a failure."""
MAX_QUERY_CHARS = 2000
"""Of a question, what is searched for (the document store's query limit)."""
HEADER = ("Excerpts from the organisation's documents, most relevant first. Where they apply, base your "
          "answer on them and cite each excerpt you use by its label in square brackets, e.g. [{example}]; "
          "if they do not answer the question, say so rather than guess.")


class DocumentGrounding:
    """What a grounded agent retrieves: up to ``top_k`` chunks, at most ``max_chars`` characters of
    them, within ``timeout`` seconds (the first retrieval, which loads the embedding model and the
    keyword index, gets ``WARM_UP_TIMEOUT``). One per runtime, shared by its factories."""

    def __init__(self, store: DocumentStore, *, top_k: int = 4, max_chars: int = 4000, timeout: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.top_k = top_k
        self.max_chars = max_chars
        self.timeout = timeout
        self.outage = Outage("document retrieval", RETRY_AFTER, log,
                             consequence="grounded agents answer without documents", clock=clock)
        """Down while the store or embedder is failing."""
        self._warm = False

    async def retrieve(self, query: str) -> list[DocumentHit]:
        """The chunks closest to ``query``, best first; empty when there are none or retrieval failed."""
        query = query.strip()[:MAX_QUERY_CHARS]
        if self.top_k <= 0 or self.max_chars <= 0 or not query:
            return []

        async def search() -> list[DocumentHit]:
            async with asyncio.timeout(self.timeout if self._warm else WARM_UP_TIMEOUT):
                hits = await self.store.search(query, self.top_k)
            self._warm = self._warm or bool(hits)  # an empty store answers without loading anything
            return hits

        nothing: list[DocumentHit] = []
        return await self.outage.guard("search", search, nothing, DOCUMENTS_DEGRADED.inc)


def documents_block(hits: Sequence[DocumentHit], max_chars: int) -> tuple[str, list[str]]:
    """The header plus each chunk under its ``[citation]`` label, never longer than ``max_chars``, and the
    citations of the chunks it holds (("", []) when none fits). Chunks are kept whole: one that does not
    fit is left out."""
    if not hits:
        return "", []
    header = HEADER.format(example=hits[0].citation)
    parts: list[str] = []
    cited: list[str] = []
    used = len(header)
    for hit in hits:
        where = f" ({hit.section})" if hit.section else ""
        part = f"[{hit.citation}]{where}\n{hit.chunk.strip()}"
        if used + 2 + len(part) > max_chars:
            continue
        parts.append(part)
        cited.append(hit.citation)
        used += 2 + len(part)
    return ("\n\n".join([header, *parts]), cited) if parts else ("", [])


async def ground_into(grounding: DocumentGrounding, messages: Sequence[Mapping[str, Any]],
                      query: str) -> tuple[list[dict[str, Any]], list[str]]:
    """``messages`` with the chunks closest to ``query`` appended to the system prompt, and their
    citations."""
    block, cited = documents_block(await grounding.retrieve(query), grounding.max_chars)
    return with_system_block(messages, block), cited
