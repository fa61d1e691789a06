"""Scrubbing secrets out of text that came from elsewhere (provider error messages, exceptions).

Providers sometimes echo part of a key ("Incorrect API key provided: sk-ab***yz"), so both the exact
configured secrets and anything key-shaped are masked before text reaches an error, a log or a metric.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_KEY_SHAPED = re.compile(
    r"\b(?:sk-ant-|sk-proj-|sk-|pk-|gsk_|pplx-|xai-|vk-|Bearer\s+)[A-Za-z0-9_\-*.]{6,}",
    re.IGNORECASE,
)
MASK = "[redacted]"


def describe_error(exc: BaseException, secrets: Iterable[str] = (), limit: int = 300) -> str:
    """``Type: message`` of an exception, scrubbed and cut: for health reasons, reports and logs."""
    return redact(f"{type(exc).__name__}: {exc}", secrets)[:limit]


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with each of ``secrets`` (4 characters or longer) and anything key-shaped masked."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    return _KEY_SHAPED.sub(MASK, text)


def redact_data(value: Any, secrets: Iterable[str] = ()) -> Any:
    """``value`` (parsed JSON) with every string in it redacted."""
    secrets = list(secrets)
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: redact_data(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_data(v, secrets) for v in value]
    return value
