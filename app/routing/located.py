"""YAML read with its line numbers kept, so that every problem in a routing file can name its line.

PyYAML (with libyaml when present) composes the document into nodes that carry their position;
each node becomes a ``Located`` value: plain data plus the line and column it was written at.
Duplicate keys, which YAML loaders silently resolve to the last one, are reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a routing file: where (line, column, dotted path) and what."""

    line: int
    column: int
    path: str
    message: str

    def describe(self, source: str) -> str:
        """``file:line:column: path: message``."""
        where = f"{self.path}: " if self.path else ""
        return f"{source}:{self.line}:{self.column}: {where}{self.message}"


@dataclass(frozen=True, slots=True)
class Located:
    """A YAML value and where it was written (1-based line and column)."""

    value: Any
    """A scalar, a ``dict[str, Located]`` or a ``list[Located]``."""
    line: int
    column: int
    duplicates: tuple[Located, ...] = field(default=())
    """Keys that were written twice in this mapping (the later ones)."""
    keys: dict[str, Located] = field(default_factory=dict)
    """A mapping's keys, where each was written (problems about an entry point at its key)."""
    text: str | None = None
    """A scalar as written (YAML 1.1 reads `yes` as true: a value that is a name wants the text)."""

    def key(self, name: str) -> Located:
        """Where the key ``name`` of this mapping was written (this value's position if unknown)."""
        return self.keys.get(name, self)

    @property
    def is_mapping(self) -> bool:
        """True for a YAML mapping."""
        return isinstance(self.value, dict)

    @property
    def is_sequence(self) -> bool:
        """True for a YAML sequence."""
        return isinstance(self.value, list)

    def plain(self) -> Any:
        """The value as plain Python data (positions dropped)."""
        if isinstance(self.value, dict):
            return {k: v.plain() for k, v in self.value.items()}
        if isinstance(self.value, list):
            return [v.plain() for v in self.value]
        return self.value

    def problem(self, path: str, message: str) -> Problem:
        """A problem at this value's position."""
        return Problem(self.line, self.column, path, message)


class YamlSyntaxError(Exception):
    """The text is not YAML; ``problem`` says where."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def read_yaml(text: str) -> Located | None:
    """The document in ``text`` (None when it is empty); raises ``YamlSyntaxError``."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        raise YamlSyntaxError(Problem(line, column, "", f"not valid YAML: {exc.problem or exc}")) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(Problem(1, 1, "", f"not valid YAML: {exc}")) from None
    return None if node is None else _convert(node, yaml.SafeLoader(""))


def _convert(node: yaml.Node, constructor: yaml.SafeLoader) -> Located:
    line, column = node.start_mark.line + 1, node.start_mark.column + 1
    if isinstance(node, yaml.MappingNode):
        items: dict[str, Located] = {}
        keys: dict[str, Located] = {}
        duplicates: list[Located] = []
        for key_node, value_node in node.value:
            key = _convert(key_node, constructor)
            # A key is a name as written: YAML 1.1 would read `on:` or `yes:` as true, `null:` as None.
            name = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key.value)
            if name in items:
                duplicates.append(key)
            items[name] = _convert(value_node, constructor)
            keys[name] = key
        return Located(items, line, column, tuple(duplicates), keys)
    if isinstance(node, yaml.SequenceNode):
        return Located([_convert(item, constructor) for item in node.value], line, column)
    try:
        value = constructor.construct_object(node)
    except yaml.YAMLError:
        value = node.value  # an unusual tag: keep the text, the schema will say what it expected
    return Located(value, line, column, text=node.value if isinstance(node, yaml.ScalarNode) else None)
