"""Structured output from any provider: the prompt asks for JSON matching the step's model (its JSON
Schema, in the prompt text, so every provider of a fallback chain gets the same request), and the
answer is validated against the model.

No provider-specific ``response_format``: a chain falls back across vendors with one request body, and
not every API accepts the same structured-output parameter.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ValidationError

_FENCE = re.compile(r"^```[a-zA-Z]*\s*(.*?)\s*```$", re.DOTALL)
MAX_ERRORS = 3


class InvalidOutput(ValueError):
    """An answer that is not JSON, or not valid for the model; the message says what is wrong."""


def _compact(schema: Any) -> Any:
    """The schema without its ``title`` keys (the model's field names say the same; tokens cost)."""
    if isinstance(schema, dict):
        return {k: _compact(v) for k, v in schema.items()
                if not (k == "title" and isinstance(v, str))}
    if isinstance(schema, list):
        return [_compact(v) for v in schema]
    return schema


def schema_request(model: type[BaseModel]) -> str:
    """The sentence that asks for an answer matching ``model``: its JSON Schema, compact."""
    schema = json.dumps(_compact(model.model_json_schema()), separators=(",", ":"), sort_keys=True)
    return ("Answer with one JSON object, and nothing else (no prose, no code fences), that validates "
            f"against this JSON Schema:\n{schema}")


def retry_request(error: InvalidOutput) -> str:
    """What is added to the prompt when the first answer was not valid."""
    return (f"Your previous answer was not valid: {error}. Answer again with only the JSON object, "
            "matching the schema exactly.")


def parse_output(model: type[BaseModel], text: str) -> BaseModel:
    """The answer as an instance of ``model``; raises ``InvalidOutput`` saying what is wrong.

    A code fence around the JSON, or prose before and after one JSON object, is tolerated.
    """
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1)
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end < start:
        raise InvalidOutput("it holds no JSON object")
    try:
        data = json.loads(body[start:end + 1])
    except ValueError as exc:
        raise InvalidOutput(f"it is not JSON ({exc})") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc']) or 'the object'}: {e['msg']}"
                    for e in exc.errors(include_url=False)[:MAX_ERRORS]]
        more = exc.error_count() - len(problems)
        raise InvalidOutput("; ".join(problems) + (f" (and {more} more)" if more > 0 else "")) from None
