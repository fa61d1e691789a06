"""Strategy trees: a chain's targets arranged by Portkey's strategies, nestable in each other.

    fallback     children in order until one answers
    loadbalance  one child, picked at random by weight (each child is a *variant*)
    conditional  the child whose query matches the request's metadata or params, else the default

A chain's tree has the indexes of its targets as leaves, numbered depth first. The gateway visits
leaves in that order too (a fallback walks its children in order; a loadbalance or a conditional
picks one child), so the attempts it reports map onto targets left to right, and the path it
reports for the target that served (``x-portkey-last-used-option-index``, e.g.
``config.targets[1].targets[0]``) leads from the root to exactly one leaf. Verified against
@portkey-ai/gateway 1.15.2 (``tryTargetsRecursively`` in ``src/handlers/handlerUtils.ts``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Generic, Literal, TypeVar

Mode = Literal["fallback", "loadbalance", "conditional"]
L = TypeVar("L")
M = TypeVar("M")

_STEP = re.compile(r"targets\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class Condition:
    """One rule of a conditional: a Portkey query (as canonical JSON) and the child it selects."""

    query: str
    child: int


@dataclass(frozen=True, slots=True)
class Group(Generic[L]):
    """A strategy over children, each a leaf (``L``) or another group."""

    mode: Mode
    children: tuple[L | Group[L], ...]
    names: tuple[str, ...] = ()
    """One per child: a loadbalance's variant names, a conditional's target names (empty for a fallback)."""
    weights: tuple[float, ...] = ()
    """Loadbalance only: one per child."""
    conditions: tuple[Condition, ...] = ()
    """Conditional only, in the order they are tried."""
    default: int | None = None
    """Conditional only: the child used when no condition matches (None: the gateway answers 400)."""
    on_status_codes: tuple[int, ...] = field(default=())
    """Fallback only: the statuses that move on to the next child (empty: any non-2xx)."""


def fallback_over(count: int) -> Group[int]:
    """The tree of a plain chain: a fallback over targets 0..count-1."""
    return Group("fallback", tuple(range(count)))


def leaves(tree: Group[L]) -> list[L]:
    """The leaves of ``tree``, depth first."""
    out: list[L] = []
    for child in tree.children:
        if isinstance(child, Group):
            out.extend(leaves(child))
        else:
            out.append(child)
    return out


def map_leaves(tree: Group[L], convert: Callable[[L], M | None]) -> Group[M] | None:
    """``tree`` with every leaf converted; a leaf converted to None is left out, and so is a group
    left without children. A loadbalance loses the dropped variant's weight; a conditional loses
    the rules that selected a dropped child (and its default, if that was dropped)."""
    kept: list[tuple[int, M | Group[M]]] = []
    for index, child in enumerate(tree.children):
        converted = map_leaves(child, convert) if isinstance(child, Group) else convert(child)
        if converted is not None:
            kept.append((index, converted))
    if not kept:
        return None
    renumber = {old: new for new, (old, _) in enumerate(kept)}
    return Group(
        mode=tree.mode,
        children=tuple(c for _, c in kept),
        names=tuple(tree.names[old] for old, _ in kept) if tree.names else (),
        weights=tuple(tree.weights[old] for old, _ in kept) if tree.weights else (),
        conditions=tuple(Condition(c.query, renumber[c.child]) for c in tree.conditions if c.child in renumber),
        default=renumber.get(tree.default) if tree.default is not None else None,
        on_status_codes=tree.on_status_codes,
    )


def numbered(tree: Group[L]) -> tuple[Group[int], list[L]]:
    """The tree with its leaves replaced by their depth-first numbers, and the leaves in that order."""
    found: list[L] = []

    def number(leaf: L) -> int:
        found.append(leaf)
        return len(found) - 1

    out = map_leaves(tree, number)
    assert out is not None, "number() never drops a leaf"
    return out, found


# ----- reading a numbered tree -----------------------------------------------------------------

Step = tuple[Group[int], int]
"""A group on the way to a leaf, and which of its children the way goes through."""


@lru_cache(maxsize=1024)
def _paths(tree: Group[int]) -> dict[int, tuple[Step, ...]]:
    paths: dict[int, tuple[Step, ...]] = {}

    def walk(group: Group[int], above: tuple[Step, ...]) -> None:
        for position, child in enumerate(group.children):
            here = (*above, (group, position))
            if isinstance(child, Group):
                walk(child, here)
            else:
                paths[child] = here

    walk(tree, ())
    return paths


def leaf_at(tree: Group[int], served_path: str) -> int | None:
    """The leaf a gateway path (``config.targets[1].targets[0]``) leads to; None if it leads nowhere."""
    node: int | Group[int] = tree
    steps = [int(s) for s in _STEP.findall(served_path)]
    if not steps:
        return None
    for step in steps:
        if not isinstance(node, Group) or step >= len(node.children):
            return None
        node = node.children[step]
    return None if isinstance(node, Group) else node


def reached_by_fallback(tree: Group[int], leaf: int) -> bool:
    """True when ``leaf`` is only tried after something before it failed: some fallback on its way
    goes through a child other than its first."""
    return any(group.mode == "fallback" and position > 0 for group, position in _paths(tree).get(leaf, ()))


def variant_of(tree: Group[int], leaf: int) -> str | None:
    """The variant ``leaf`` belongs to: its branch of the outermost loadbalance on its way; None if none."""
    for group, position in _paths(tree).get(leaf, ()):
        if group.mode == "loadbalance":
            return group.names[position] if group.names else str(position)
    return None


def tried_before(tree: Group[int], leaf: int) -> list[int]:
    """The leaves the gateway tried (and saw fail) before it reached ``leaf``, as far as the tree tells.

    Inside an earlier loadbalance or conditional the branch actually taken is unknown; its first
    is assumed. Only used when the gateway reports no per-attempt detail (hosted Portkey).
    """
    out: list[int] = []
    for group, position in _paths(tree).get(leaf, ()):
        if group.mode == "fallback":
            for earlier in group.children[:position]:
                out.extend(_first_choices(earlier))
    return out


def _first_choices(node: int | Group[int]) -> list[int]:
    if not isinstance(node, Group):
        return [node]
    if node.mode == "fallback":
        return [leaf for child in node.children for leaf in _first_choices(child)]
    return _first_choices(node.children[0])


def remaining_after(tree: Group[int], leaf: int) -> Group[int] | None:
    """What the gateway would still have tried had ``leaf`` failed: later children of every fallback
    on its way. A loadbalance or conditional already made its choice, so only that branch's rest
    remains. None when nothing remains."""
    steps = _paths(tree).get(leaf)
    if steps is None:
        return None

    def rest(depth: int) -> int | Group[int] | None:
        if depth == len(steps):
            return None  # the leaf itself: it failed
        group, position = steps[depth]
        inner = rest(depth + 1)
        if group.mode != "fallback":
            return inner
        later = [*([inner] if inner is not None else []), *group.children[position + 1:]]
        if not later:
            return None
        return replace(group, children=tuple(later))

    remaining = rest(0)
    if remaining is None or isinstance(remaining, Group):
        return remaining
    return Group("fallback", (remaining,))


def deferring(tree: Group[int], is_open: Callable[[int], bool]) -> Group[int]:
    """``tree`` with what an open circuit should not try first moved: in each fallback, children whose
    targets are all open go last (in order); a loadbalance drops its all-open variants while another
    remains (as Portkey's own circuit breaker does). A conditional's rules still decide."""

    def all_open(node: int | Group[int]) -> bool:
        return all(is_open(leaf) for leaf in (leaves(node) if isinstance(node, Group) else [node]))

    children = [deferring(c, is_open) if isinstance(c, Group) else c for c in tree.children]
    if tree.mode == "fallback":
        order = [i for i, c in enumerate(children) if not all_open(c)] + [
            i for i, c in enumerate(children) if all_open(c)]
        return replace(tree, children=tuple(children[i] for i in order))
    if tree.mode == "loadbalance":
        keep = [i for i, c in enumerate(children) if not all_open(c)]
        if keep and len(keep) < len(children):
            return replace(tree, children=tuple(children[i] for i in keep), names=tuple(tree.names[i] for i in keep),
                           weights=tuple(tree.weights[i] for i in keep))
    return replace(tree, children=tuple(children))


def fields_read(tree: Group[int]) -> set[str]:
    """The request fields (``metadata.tier``, ``params.max_tokens``...) the tree's conditionals read."""
    out: set[str] = set()

    def collect(query: Any) -> None:
        if isinstance(query, dict):
            for key, value in query.items():
                if key in ("$and", "$or"):
                    for part in value:
                        collect(part)
                elif not key.startswith("$"):
                    out.add(key)

    def walk(group: Group[int]) -> None:
        for condition in group.conditions:
            collect(json.loads(condition.query))
        for child in group.children:
            if isinstance(child, Group):
                walk(child)

    walk(tree)
    return out


def first_choices(tree: Group[L]) -> Group[L]:
    """``tree`` with every fallback cut to its first child (``ENABLE_FALLBACK=false``)."""
    children = tree.children[:1] if tree.mode == "fallback" else tree.children
    return replace(tree, children=tuple(first_choices(c) if isinstance(c, Group) else c for c in children))


# ----- Portkey config ----------------------------------------------------------------------------

def to_portkey(tree: Group[int], render: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
    """The Portkey config of ``tree``; ``render`` gives each leaf's target entry (a fresh dict)."""
    strategy: dict[str, Any] = {"mode": tree.mode}
    if tree.on_status_codes:
        strategy["on_status_codes"] = list(tree.on_status_codes)
    targets = []
    for position, child in enumerate(tree.children):
        entry = to_portkey(child, render) if isinstance(child, Group) else render(child)
        if tree.mode == "loadbalance":
            entry["weight"] = tree.weights[position]
        elif tree.mode == "conditional":
            entry["name"] = tree.names[position]
        targets.append(entry)
    if tree.mode == "conditional":
        strategy["conditions"] = [{"query": json.loads(c.query), "then": tree.names[c.child]}
                                  for c in tree.conditions]
        if tree.default is not None:
            strategy["default"] = tree.names[tree.default]
    return {"strategy": strategy, "targets": targets}


__all__ = ["Condition", "Group", "Mode", "deferring", "fallback_over", "fields_read", "first_choices", "leaf_at",
           "leaves", "map_leaves", "numbered", "reached_by_fallback", "remaining_after", "to_portkey", "tried_before",
           "variant_of"]
