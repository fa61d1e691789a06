"""Checks on what callers hand the document store, all made before any work is done."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from app.core.errors import InvalidRequestError
from app.documents.backends import META_PREFIX, SEARCH_MODES, SearchMode
from app.documents.models import Scalar

MAX_SOURCE = 512
MAX_QUERY = 2000
MAX_RESULTS = 100
MAX_METADATA_KEYS = 32
MAX_METADATA_VALUE = 1000
BUILT_IN_FILTERS = ("source", "format")
_KEY = re.compile(rf"^[A-Za-z_][A-Za-z0-9_]{{0,{63 - len(META_PREFIX)}}}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_source(source: Any) -> str:
    """``source`` stripped; ``InvalidRequestError`` unless it is a printable name of 1 to 512 characters."""
    if not isinstance(source, str) or not source.strip():
        raise InvalidRequestError("source must be a non-empty string naming the document (e.g. its path)")
    source = source.strip()
    if len(source) > MAX_SOURCE or _CONTROL.search(source):
        raise InvalidRequestError(f"source must be at most {MAX_SOURCE} printable characters")
    return source


def _scalar(key: str, value: Any, what: str) -> Scalar:
    if isinstance(value, str) and len(value) > MAX_METADATA_VALUE:
        raise InvalidRequestError(f"{what} {key!r}: strings are limited to {MAX_METADATA_VALUE} characters")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidRequestError(f"{what} {key!r} must be finite")
    if not isinstance(value, str | int | float | bool):
        raise InvalidRequestError(f"{what} {key!r} must be a string, number or bool, got {type(value).__name__}")
    return value


def _mapping(value: Any, what: str) -> Mapping[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidRequestError(f"{what} must be a mapping of name to value, got {type(value).__name__}")
    if len(value) > MAX_METADATA_KEYS:
        raise InvalidRequestError(f"{what} has {len(value)} keys; at most {MAX_METADATA_KEYS} are allowed")
    return value


def check_metadata(metadata: Any) -> dict[str, Scalar]:
    """``metadata`` as a dict of identifier keys to scalars (``source`` and ``format`` are reserved)."""
    checked: dict[str, Scalar] = {}
    for key, value in _mapping(metadata, "metadata").items():
        if not isinstance(key, str) or not _KEY.match(key):
            raise InvalidRequestError(f"metadata key {key!r} must be an identifier (letters, digits, _)")
        if key in BUILT_IN_FILTERS:
            raise InvalidRequestError(f"metadata key {key!r} is reserved: every chunk already carries it")
        checked[key] = _scalar(key, value, "metadata value")
    return checked


def check_filters(filters: Any) -> dict[str, Scalar]:
    """``filters`` as a dict of metadata keys (or ``source`` / ``format``) to the scalars they must equal."""
    checked: dict[str, Scalar] = {}
    for key, value in _mapping(filters, "filters").items():
        if not isinstance(key, str) or not (_KEY.match(key) or key in BUILT_IN_FILTERS):
            raise InvalidRequestError(f"filter key {key!r} must be a metadata key, 'source' or 'format'")
        checked[key] = check_source(value) if key == "source" else _scalar(key, value, "filter value")
    return checked


def check_query(query: Any, limit: Any, mode: Any) -> tuple[str, int, SearchMode]:
    """The query stripped, the limit and the mode, each checked (``InvalidRequestError`` names a bad one)."""
    if not isinstance(query, str) or not query.strip():
        raise InvalidRequestError("query must be a non-empty string")
    if len(query) > MAX_QUERY:
        raise InvalidRequestError(f"query is longer than {MAX_QUERY} characters")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_RESULTS:
        raise InvalidRequestError(f"limit must be an integer from 1 to {MAX_RESULTS}, got {limit!r}")
    if mode not in SEARCH_MODES:
        raise InvalidRequestError(f"mode must be one of {', '.join(SEARCH_MODES)}, got {mode!r}")
    return query.strip(), limit, mode
