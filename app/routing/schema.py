"""Reading a routing file's ``roles`` and ``routes`` into policy data, naming the line of every problem.

A strategy node is Portkey's vocabulary plus ``complexity``:

    {target: provider/model, override_params: {...}}               one target (a leaf)
    {strategy: fallback, targets: [...], on_status_codes: [...]}    in order until one answers
    {strategy: loadbalance, targets: [{..., weight: 0.8}, ...], sticky: metadata.user_id, salt: ...}
    {strategy: conditional, conditions: [{query: {...}, then: node}], default: node}
    {strategy: complexity, simple: node, complex: node, threshold: 0.5}

Any node may carry a ``name`` (a loadbalance's variant name, a conditional's branch name); a child
of a loadbalance carries its ``weight``.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from app.core.errors import SophiaError
from app.core.routing import TargetSpec
from app.routing.located import Located, Problem
from app.routing.nodes import Complexity, Conditional, Fallback, Leaf, LoadBalance, PolicyNode
from app.routing.options import check_override_params
from app.routing.policy import DOMAINS, Output, Route, Strategy
from app.routing.queries import canonical, check_query

ROLE_KEY = re.compile(r"^(artemis|sophia)/[a-z][a-z0-9_]{0,63}$")
ROUTE_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")
STICKY = re.compile(r"^(metadata|params)\.[A-Za-z0-9_\-]+$")
MODES = ("fallback", "loadbalance", "conditional", "complexity", "single")
_NODE_FIELDS = {
    None: {"target", "override_params"},
    "fallback": {"strategy", "targets", "on_status_codes"},
    "single": {"strategy", "targets"},
    "loadbalance": {"strategy", "targets", "sticky", "salt"},
    "conditional": {"strategy", "conditions", "default"},
    "complexity": {"strategy", "simple", "complex", "threshold"},
}
STRATEGY_FIELDS = frozenset().union(*_NODE_FIELDS.values(), {"name", "weight"})
ROLE_FIELDS = frozenset({"description", "system_prompt", "output", "grounded"})


@dataclass(frozen=True, slots=True)
class RoleEntry:
    """A role as one file writes it; fields it leaves out are taken from the built-in role of that key."""

    key: str
    line: int
    description: str | None = None
    system_prompt: str | None = None
    output: Output | None = None
    strategy: PolicyNode | None = None
    grounded: bool | None = None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Reader:
    """Walks one file's values, collecting every problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, where: Located, path: str, message: str) -> None:
        self.problems.append(where.problem(path, message))

    def known_fields(self, node: Located, path: str, allowed: frozenset[str] | set[str], what: str) -> None:
        for duplicate in node.duplicates:
            self.fail(duplicate, _join(path, str(duplicate.value)), "written twice in the same mapping")
        for key in node.value:
            if key not in allowed:
                close = difflib.get_close_matches(key, sorted(allowed), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f"; {what} fields: {', '.join(sorted(allowed))}"
                self.fail(node.key(key), _join(path, key), f"unknown field {key!r}{hint}")

    def text(self, node: Located | None, path: str) -> str | None:
        if node is None:
            return None
        if not isinstance(node.value, str) or not node.value.strip():
            self.fail(node, path, "must be a non-empty string")
            return None
        return node.value.strip()

    def number(self, node: Located, path: str, low: float, high: float | None = None,
               low_inclusive: bool = True) -> float | None:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(node, path, f"must be a number, got {value!r}")
            return None
        too_low = value < low if low_inclusive else value <= low
        if too_low or (high is not None and value >= high):
            bound = f"{'>=' if low_inclusive else '>'} {low}" + (f" and < {high}" if high is not None else "")
            self.fail(node, path, f"must be {bound}, got {value}")
            return None
        return float(value)

    # ----- strategies ---------------------------------------------------------------------------

    def node(self, node: Located, path: str, salt: str, *, in_loadbalance: bool = False) -> PolicyNode | None:
        """One strategy node (or None, with problems recorded)."""
        if not node.is_mapping:
            self.fail(node, path, "expected a mapping: {target: provider/model} or {strategy: ..., ...}")
            return None
        fields = node.value
        mode_node = fields.get("strategy")
        mode = None if mode_node is None else str(mode_node.value)
        if mode_node is not None and mode not in MODES:
            self.fail(mode_node, f"{path}.strategy", f"unknown strategy {mode!r}; use one of {', '.join(MODES)}")
            return None
        if mode is None and "target" not in fields:
            self.fail(node, path, "needs either target: provider/model or strategy: fallback|loadbalance|"
                                  "conditional|complexity")
            return None
        if mode is not None and "target" in fields:
            self.fail(fields["target"], f"{path}.target", "a node is either one target or a strategy, not both")
            return None
        allowed = set(_NODE_FIELDS[mode]) | {"name"} | ({"weight"} if in_loadbalance else set())
        self.known_fields(node, path, allowed, f"a {mode or 'target'} node's")
        if mode is None:
            return self.leaf(fields, path)
        if mode in ("fallback", "single"):
            return self.fallback(node, path, salt, single=mode == "single")
        if mode == "loadbalance":
            return self.loadbalance(node, path, salt)
        if mode == "conditional":
            return self.conditional(node, path, salt)
        return self.complexity(node, path, salt)

    def leaf(self, fields: dict[str, Located], path: str) -> Leaf | None:
        target = fields["target"]
        if not isinstance(target.value, str) or not target.value.strip():
            self.fail(target, f"{path}.target", "must be provider/model, e.g. openai/gpt-4o")
            return None
        try:
            spec = TargetSpec.parse(target.value)
        except SophiaError as exc:
            self.fail(target, f"{path}.target", str(exc))
            return None
        params = None
        if "override_params" in fields:
            raw = fields["override_params"]
            before = len(self.problems)
            check_override_params(spec.provider, raw, f"{path}.override_params", self.problems)
            if len(self.problems) > before:
                return None
            params = json.dumps(raw.plain(), sort_keys=True, separators=(",", ":"))
        return Leaf(TargetSpec(spec.provider, spec.model, params))

    def children(self, node: Located, path: str, salt: str, *, in_loadbalance: bool = False
                 ) -> list[tuple[PolicyNode, Located]] | None:
        targets = node.value.get("targets")
        if targets is None or not targets.is_sequence or not targets.value:
            self.fail(targets or node, f"{path}.targets", "needs a non-empty list of targets")
            return None
        out: list[tuple[PolicyNode, Located]] = []
        for i, item in enumerate(targets.value):
            child = self.node(item, f"{path}.targets[{i}]", f"{salt}.targets[{i}]", in_loadbalance=in_loadbalance)
            if child is not None:
                out.append((child, item))
        return out if len(out) == len(targets.value) else None

    def fallback(self, node: Located, path: str, salt: str, *, single: bool) -> Fallback | None:
        children = self.children(node, path, salt)
        if children is None:
            return None
        if single and len(children) != 1:
            self.fail(node.value["targets"], f"{path}.targets", "a single strategy has exactly one target")
            return None
        codes: tuple[int, ...] = ()
        raw = node.value.get("on_status_codes")
        if raw is not None:
            plain = raw.plain()
            if not isinstance(plain, list) or not plain or not all(
                    isinstance(c, int) and not isinstance(c, bool) and 100 <= c <= 599 for c in plain):
                self.fail(raw, f"{path}.on_status_codes", "must be a list of HTTP statuses, e.g. [429, 500, 503]")
                return None
            codes = tuple(plain)
        return Fallback(tuple(c for c, _ in children), codes)

    def loadbalance(self, node: Located, path: str, salt: str) -> LoadBalance | None:
        children = self.children(node, path, salt, in_loadbalance=True)
        if children is None:
            return None
        weights: list[float] = []
        for i, (_, item) in enumerate(children):
            raw = item.value.get("weight")
            weight = 1.0 if raw is None else self.number(raw, f"{path}.targets[{i}].weight", 0)
            weights.append(weight if weight is not None else 0.0)
        if sum(weights) <= 0:
            self.fail(node, f"{path}.targets", "the weights add up to 0: no variant could ever be chosen")
        names = self.names(children, path, lambda i, child: child.spec.label if isinstance(child, Leaf)
                           else f"variant-{i + 1}")
        sticky = self.text(node.value.get("sticky"), f"{path}.sticky")
        if sticky is not None and not STICKY.match(sticky):
            self.fail(node.value["sticky"], f"{path}.sticky", "must be metadata.<key> or params.<key>, "
                                                              "e.g. metadata.user_id")
        own_salt = self.text(node.value.get("salt"), f"{path}.salt")
        if names is None:
            return None
        return LoadBalance(tuple(c for c, _ in children), names, tuple(weights), sticky, own_salt or salt)

    def names(self, children: list[tuple[PolicyNode, Located]], path: str,
              default: Callable[[int, PolicyNode], str]) -> tuple[str, ...] | None:
        names: list[str] = []
        for i, (child, item) in enumerate(children):
            raw = item.value.get("name")
            name = self.text(raw, f"{path}.targets[{i}].name") if raw is not None else default(i, child)
            if name is None:
                return None
            if name in names:
                self.fail(raw or item, f"{path}.targets[{i}]", f"two branches are called {name!r}: give each "
                                                                 "a distinct name:")
                return None
            names.append(name)
        return tuple(names)

    def conditional(self, node: Located, path: str, salt: str) -> Conditional | None:
        conditions = node.value.get("conditions")
        if conditions is None or not conditions.is_sequence or not conditions.value:
            self.fail(conditions or node, f"{path}.conditions", "needs a non-empty list of {query: ..., then: ...}")
            return None
        queries: list[str] = []
        branches: list[PolicyNode] = []
        names: list[str] = []
        ok = True
        for i, item in enumerate(conditions.value):
            here = f"{path}.conditions[{i}]"
            if not item.is_mapping:
                self.fail(item, here, "expected {query: {...}, then: {...}}")
                ok = False
                continue
            self.known_fields(item, here, {"query", "then"}, "a condition's")
            query_node, then = item.value.get("query"), item.value.get("then")
            if query_node is None or then is None:
                self.fail(item, here, "needs both query: and then:")
                ok = False
                continue
            query = check_query(query_node, f"{here}.query", self.problems)
            branch = self.node(then, f"{here}.then", f"{salt}.conditions[{i}]")
            if query is None or branch is None:
                ok = False
                continue
            queries.append(canonical(query))
            branches.append(branch)
            names.append(self.branch_name(then, f"{here}.then", f"rule-{i + 1}", names))
        default = None
        if "default" in node.value:
            default = self.node(node.value["default"], f"{path}.default", f"{salt}.default")
            ok = ok and default is not None
            names.append(self.branch_name(node.value["default"], f"{path}.default", "default", names))
        if not ok:
            return None
        return Conditional(tuple(queries), tuple(branches), tuple(names), default)

    def branch_name(self, node: Located, path: str, default: str, taken: list[str]) -> str:
        raw = node.value.get("name") if node.is_mapping else None
        name = (self.text(raw, f"{path}.name") if raw is not None else None) or default
        if name in taken:
            self.fail(raw or node, f"{path}.name", f"another branch is already called {name!r}")
        return name

    def complexity(self, node: Located, path: str, salt: str) -> Complexity | None:
        fields = node.value
        branches = {}
        for side in ("simple", "complex"):
            if side not in fields:
                self.fail(node, f"{path}.{side}", f"a complexity strategy needs a {side}: branch")
                continue
            branches[side] = self.node(fields[side], f"{path}.{side}", f"{salt}.{side}")
        threshold = None
        if "threshold" in fields:
            threshold = self.number(fields["threshold"], f"{path}.threshold", 0, 1, low_inclusive=False)
            if threshold is None:
                return None
        simple, complex_ = branches.get("simple"), branches.get("complex")
        if simple is None or complex_ is None:
            return None
        return Complexity(simple, complex_, threshold)

    # ----- roles and routes ---------------------------------------------------------------------

    def strategy_of(self, entry: Located, path: str, salt: str) -> PolicyNode | None:
        """The strategy written inline in a role or route entry (its strategy fields), or None."""
        fields = {k: v for k, v in entry.value.items() if k in STRATEGY_FIELDS and k not in ("name", "weight")}
        if not fields:
            return None
        return self.node(Located(fields, entry.line, entry.column, keys=entry.keys), path, salt)

    def output(self, node: Located, path: str) -> Output | None:
        if not node.is_mapping:
            self.fail(node, path, "expected {format: json, fields: {name: description, ...}}")
            return None
        self.known_fields(node, path, {"format", "fields"}, "output")
        fmt = node.value.get("format")
        if fmt is not None and fmt.value != "json":
            self.fail(fmt, f"{path}.format", "the only output format is json")
        fields = node.value.get("fields")
        if fields is None or not fields.is_mapping or not fields.value:
            self.fail(fields or node, f"{path}.fields", "needs a mapping of key: description")
            return None
        out = []
        for key, description in fields.value.items():
            text = self.text(description, f"{path}.fields.{key}")
            if text is not None:
                out.append((key, text))
        return Output(tuple(out)) if len(out) == len(fields.value) else None

    def role(self, key: str, entry: Located, at: Located) -> RoleEntry | None:
        path = f"roles.{key}"
        if not ROLE_KEY.match(key):
            self.fail(at, path, f"a role is written <domain>/<name> with domain {' or '.join(DOMAINS)} and a "
                                   "lower-case name, e.g. artemis/test_writer")
            return None
        if not entry.is_mapping:
            self.fail(entry, path, "expected a mapping with description, system_prompt and a strategy")
            return None
        self.known_fields(entry, path, ROLE_FIELDS | STRATEGY_FIELDS - {"name", "weight"}, "a role's")
        output = self.output(entry.value["output"], f"{path}.output") if "output" in entry.value else None
        grounded = entry.value.get("grounded")
        if grounded is not None and not isinstance(grounded.value, bool):
            self.fail(grounded, f"{path}.grounded", "must be true or false")
        return RoleEntry(
            key=key, line=at.line,
            description=self.text(entry.value.get("description"), f"{path}.description"),
            system_prompt=self.text(entry.value.get("system_prompt"), f"{path}.system_prompt"),
            output=output,
            strategy=self.strategy_of(entry, path, key),
            grounded=grounded.value if grounded is not None and isinstance(grounded.value, bool) else None,
        )

    def route(self, name: str, entry: Located, at: Located) -> Route | None:
        path = f"routes.{name}"
        if not ROUTE_NAME.match(name):
            self.fail(at, path, "a route name is lower-case letters, digits, - and _ (at most 64)")
            return None
        if not entry.is_mapping:
            self.fail(entry, path, "expected a strategy, e.g. {strategy: fallback, targets: [...]}")
            return None
        self.known_fields(entry, path, {"description"} | STRATEGY_FIELDS - {"name", "weight"}, "a route's")
        strategy = self.strategy_of(entry, path, name)
        if strategy is None:
            if not any(p.path.startswith(path) for p in self.problems):
                self.fail(at, path, "needs a strategy (target: or strategy:)")
            return None
        description = self.text(entry.value.get("description"), f"{path}.description") or ""
        return Route(name, description, Strategy(strategy))


def read_document(document: Located) -> tuple[dict[str, RoleEntry], dict[str, Route], list[Problem]]:
    """The roles and routes of a parsed routing file, and every problem found in it."""
    reader = _Reader()
    if not document.is_mapping:
        reader.fail(document, "", "a routing file is a mapping with roles:, routes: and workflows:")
        return {}, {}, reader.problems
    reader.known_fields(document, "", {"roles", "routes", "workflows"}, "top-level")  # workflows: workflow_file.py
    roles: dict[str, RoleEntry] = {}
    routes: dict[str, Route] = {}
    for section in ("roles", "routes"):
        block = document.value.get(section)
        if block is None or block.value is None:
            continue
        if not block.is_mapping:
            reader.fail(block, section, f"{section} is a mapping of name: entry")
            continue
        reader.known_fields(block, section, set(block.value), section)  # reports duplicate names
        for key, entry in block.value.items():
            if section == "roles":
                role = reader.role(key, entry, block.key(key))
                if role is not None:
                    roles[key] = role
            else:
                route = reader.route(key, entry, block.key(key))
                if route is not None:
                    routes[key] = route
    return roles, routes, reader.problems
