"""Portkey's conditional-routing queries: checked when the routing file is read, normalised for the gateway.

    {metadata.tier: {$eq: premium}}
    {$or: [{metadata.tier: {$in: [gold, premium]}}, {params.max_tokens: {$gt: 2000}}]}

Fields are ``metadata.<key>`` (the request's metadata, always strings: we send it as the
``x-portkey-metadata`` header), ``params.<key>`` (the request body's parameters, JSON types kept) or
``url.pathname``. Operators are the gateway's: ``$eq $ne $gt $gte $lt $lte $in $nin $regex $and $or``.

Three behaviours of the gateway's evaluator (``src/services/conditionalRouter.ts``, 1.15.2) are
smoothed over here, so a query means what it reads as:
- ``$and``/``$or`` end the evaluation of the object they are in: an object that mixes them with
  other fields becomes one ``$and`` of single-field parts;
- ``$regex`` ends the evaluation of its operator object: it is split out the same way;
- comparisons are strict (``"5" !== 5``): values compared with a metadata field become strings.
"""

from __future__ import annotations

import json
import re
from typing import Any

from app.routing.located import Located, Problem

COMPARISONS = frozenset({"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$regex"})
LOGICAL = frozenset({"$and", "$or"})
_FIELD = re.compile(r"^(metadata|params)\.[A-Za-z0-9_\-]+$|^url\.pathname$")


def check_query(query: Located, path: str, problems: list[Problem]) -> dict[str, Any] | None:
    """The query, normalised for the gateway; None (with ``problems`` filled) when it is wrong."""
    before = len(problems)
    normalised = _query(query, path, problems)
    return normalised if len(problems) == before else None


def referenced_fields(query: dict[str, Any]) -> set[str]:
    """The fields (``metadata.tier``...) a normalised query reads."""
    out: set[str] = set()
    for key, value in query.items():
        if key in LOGICAL:
            for part in value:
                out |= referenced_fields(part)
        else:
            out.add(key)
    return out


def canonical(query: dict[str, Any]) -> str:
    """The query as compact JSON, key order kept (the gateway evaluates in that order)."""
    return json.dumps(query, separators=(",", ":"))


def _query(query: Located, path: str, problems: list[Problem]) -> dict[str, Any]:
    if not query.is_mapping or not query.value:
        problems.append(query.problem(path, "a query is a non-empty mapping like {metadata.tier: {$eq: premium}}"))
        return {}
    parts: list[dict[str, Any]] = []
    for key, value in query.value.items():
        here = f"{path}.{key}"
        if key in LOGICAL:
            if not value.is_sequence or not value.value:
                problems.append(value.problem(here, f"{key} takes a non-empty list of queries"))
                continue
            parts.append({key: [_query(item, f"{here}[{i}]", problems) for i, item in enumerate(value.value)]})
        elif key.startswith("$"):
            problems.append(query.problem(here, f"unknown logical operator {key}; use $and or $or"))
        elif not _FIELD.match(key):
            problems.append(query.problem(here, f"cannot query {key!r}: fields are metadata.<key>, params.<key> "
                                                "or url.pathname (one level deep)"))
        else:
            parts.extend(_field(key, value, here, problems))
    if len(parts) == 1:
        return parts[0]
    keys = [key for part in parts for key in part]
    if LOGICAL & set(keys) or len(set(keys)) != len(keys):
        return {"$and": parts}
    merged: dict[str, Any] = {}
    for part in parts:
        merged.update(part)
    return merged


def _field(key: str, value: Located, path: str, problems: list[Problem]) -> list[dict[str, Any]]:
    as_string = key.startswith("metadata.")
    if not value.is_mapping:
        if value.is_sequence:
            problems.append(value.problem(path, "compare with an operator, e.g. {$in: [a, b]}"))
            return []
        return [{key: _compared(value.value, as_string)}]
    ops: dict[str, Any] = {}
    for op, operand in value.value.items():
        here = f"{path}.{op}"
        if op not in COMPARISONS:
            problems.append(value.problem(here, f"unknown operator {op}; use one of {' '.join(sorted(COMPARISONS))}"))
            continue
        checked, message = _operand(op, operand.plain(), as_string)
        if message:
            problems.append(operand.problem(here, message))
        else:
            ops[op] = checked
    if "$regex" in ops and len(ops) > 1:
        return [{key: {op: v}} for op, v in ops.items()]
    return [{key: ops}] if ops else []


def _operand(op: str, plain: Any, as_string: bool) -> tuple[Any, str | None]:
    """The operand as sent to the gateway, or a message saying why it is wrong for ``op``."""
    if op in ("$in", "$nin"):
        if not isinstance(plain, list):
            return None, f"{op} takes a list"
        return [_compared(v, as_string) for v in plain], None
    if op == "$regex":
        if not isinstance(plain, str):
            return None, "$regex takes a pattern string"
        try:
            re.compile(plain)
        except re.error as exc:
            return None, f"not a valid pattern: {exc}"
        return plain, None
    if op in ("$gt", "$gte", "$lt", "$lte"):
        if isinstance(plain, bool) or not isinstance(plain, (int, float)):
            return None, f"{op} compares numbers; got {plain!r}"
        return plain, None
    if isinstance(plain, (dict, list)):
        return None, f"{op} compares with a single value"
    return _compared(plain, as_string), None


def _compared(value: Any, as_string: bool) -> Any:
    # The manager sends metadata values as str(value): compare with the same text.
    if not as_string or isinstance(value, str):
        return value
    return "" if value is None else str(value)
