"""A step's prompt, built explicitly from the run's input and the outputs of the steps it uses.

A template prompt gets ``{input.<field>}`` filled in, then the input and each used output as JSON under
a heading that names the step and its role (a skipped step is named with the reason it has no output),
then, in a review loop's later rounds, the previous version and the reviewer's comments. A prompt
function writes all of that itself from the ``StepContext``. The runner appends the output schema.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel

from app.workflows.definition import Step, StepContext

_FIELD = re.compile(r"\{input\.([A-Za-z_][A-Za-z0-9_]*)\}")


def as_json(value: BaseModel | Any) -> str:
    """A model (or plain data) as indented JSON, keys in the model's order."""
    if isinstance(value, BaseModel):
        return value.model_dump_json(indent=2)
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def fill(template: str, data: BaseModel) -> str:
    """``template`` with each ``{input.<field>}`` replaced by that field of ``data`` (unknown ones kept)."""
    values = data.model_dump()

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(values[name]) if name in values else match.group(0)

    return _FIELD.sub(value, template)


def sources_block(context: StepContext, roles: dict[str, str]) -> str:
    """The input and every used step's output (or why it has none), each under its heading."""
    parts = [f"Input:\n{as_json(context.input)}"]
    for name, output in context.outputs.items():
        cited = context.citations.get(name)
        note = f"; it cites: {', '.join(cited)}" if cited else ""
        parts.append(f"Output of step {name!r} ({roles.get(name, 'agent')}{note}):\n{as_json(output)}")
    for name, reason in context.missing.items():
        parts.append(f"Step {name!r} has no output: {reason}.")
    return "\n\n".join(parts)


def revision_block(context: StepContext) -> str:
    """In a review loop's later rounds: the previous version and the comments to address."""
    if context.previous is None:
        return ""
    comments = "\n".join(f"- {c}" for c in context.comments) or "- (no specific comment)"
    return (f"A reviewer sent your previous answer back. Your previous answer:\n{as_json(context.previous)}\n\n"
            f"Address each of these comments in a revised answer:\n{comments}")


def build_prompt(step: Step, context: StepContext, roles: dict[str, str]) -> str:
    """The prompt of ``step`` (without the output schema, which the runner adds)."""
    if callable(step.prompt):
        body = step.prompt(context)
    else:
        body = "\n\n".join([fill(step.prompt, context.input), sources_block(context, roles)])
    revision = revision_block(context)
    return f"{body}\n\n{revision}" if revision else body
