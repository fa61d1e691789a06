"""Checking a target's ``override_params`` against the provider catalog's documented options.

A provider's own options (Perplexity's ``search_recency_filter``...) are checked against the values
its API documents, and refused on a target of another provider (which would reject them); the
common sampling parameters are checked as a request's would be.
"""

from __future__ import annotations

from typing import Any

from app.core.errors import InvalidRequestError
from app.core.providers import PROVIDERS, Provider, RequestOption
from app.core.validation import check_params
from app.routing.located import Located, Problem


def check_override_params(provider: Provider, node: Located, path: str, problems: list[Problem]) -> None:
    """Record in ``problems`` what is wrong with ``node`` as override_params of a ``provider`` target."""
    if not node.is_mapping:
        problems.append(node.problem(path, "expected a mapping of parameter: value"))
        return
    own = {o.name: o for o in provider.options}
    others = {o.name: p for p in PROVIDERS.values() if p is not provider for o in p.options}
    for name, value in node.value.items():
        here = f"{path}.{name}"
        if name in ("model", "messages", "stream"):
            problems.append(value.problem(here, f"{name} cannot be overridden here (the model goes in target:)"))
        elif name in own:
            message = _option_problem(own[name], value.plain())
            if message:
                problems.append(value.problem(here, message))
        elif name in others:
            problems.append(value.problem(here, f"{name} is a {others[name].display_name} option; this target is "
                                                f"{provider.display_name}, whose API would reject it"))
    try:
        check_params(node.plain())
    except InvalidRequestError as exc:
        problems.append(node.problem(path, str(exc)))


def _option_problem(option: RequestOption, value: Any) -> str | None:
    if option.shape == "choice":
        if value not in option.choices:
            return f"must be one of {', '.join(option.choices)}"
    elif option.shape == "strings":
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            return "must be a list of strings"
        if option.max_items is not None and len(value) > option.max_items:
            return f"takes at most {option.max_items} entries"
    else:
        fields = dict(option.fields)
        if not isinstance(value, dict):
            return f"must be a mapping with {', '.join(fields)}"
        for key, item in value.items():
            if key not in fields:
                return f"unknown key {key!r}; expected {', '.join(fields)}"
            if item not in fields[key]:
                return f"{key} must be one of {', '.join(fields[key])}"
    return None
