"""Reading which targets the gateway tried, and with what outcome, from its response headers.

``x-portkey-last-used-option-index`` names the target that produced the response by its path
through the chain's strategy tree (``config.targets[2]``; nested: ``config.targets[1].targets[0]``).
Our gateway preload adds ``x-sophia-attempts``, one entry per upstream call in order (retries included): ``{"o": origin, "m": model, "s": status}`` or ``{"o", "m", "e": error}``. Hosted Portkey
does not send it; then the targets the gateway went through before the served one are known to have
failed, with no status.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import urlsplit

from app.core.results import Attempt
from app.core.routing import Chain, Target
from app.core.strategy import tried_before


def served_index(headers: Mapping[str, str], chain: Chain) -> int | None:
    """The chain index of the target that produced the response; None when the header is missing."""
    path = headers.get("x-portkey-last-used-option-index")
    return chain.index_at(path) if path else None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _target_origin(target: Target) -> str:
    return _origin(target.custom_host or target.base_url)


def read_attempts(headers: Mapping[str, str], chain: Chain, final_status: int) -> tuple[list[Attempt], int]:
    """Every attempt the gateway made and the index of the target that answered last."""
    targets = chain.targets
    index = served_index(headers, chain)
    raw = headers.get("x-sophia-attempts")
    if raw:
        try:
            entries = json.loads(raw)
        except ValueError:
            entries = None
        if isinstance(entries, list) and entries:
            attempts, last = _map_entries(entries, targets)
            return attempts, index if index is not None else last
    # No per-attempt report: earlier targets failed (how, the gateway does not say).
    index = index if index is not None else len(targets) - 1
    index = min(index, len(targets) - 1)
    attempts = [Attempt(provider=targets[i].provider.name, model=targets[i].model,
                        error="failed (status not reported)")
                for i in tried_before(chain.strategy, index)]
    served = targets[index]
    attempts.append(Attempt(provider=served.provider.name, model=served.model, status=final_status))
    return attempts, index


def _map_entries(entries: list[object], targets: tuple[Target, ...]) -> tuple[list[Attempt], int]:
    # Targets are tried in order, so an entry belongs to the first target at or after the cursor
    # with the same origin and model (or, failing that, the same origin).
    keys = [(_target_origin(t), t.model) for t in targets]
    cursor = 0
    attempts: list[Attempt] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        key = (str(entry.get("o", "")), str(entry.get("m", "")))
        later = range(cursor, len(targets))
        match = next((j for j in later if keys[j] == key), None)
        if match is None:
            match = next((j for j in later if keys[j][0] == key[0]), cursor)
        cursor = match
        target = targets[cursor]
        status = entry.get("s")
        error = entry.get("e")  # with a status: the body then failed (our preload's "stalled")
        attempts.append(Attempt(
            provider=target.provider.name, model=target.model,
            status=int(status) if isinstance(status, int) else None,
            error=str(error) if error else None if isinstance(status, int) else "failed",
        ))
    return attempts, cursor
