"""A routing file's strategies as immutable data, and how one request turns them into a chain to send.

Most of a strategy is executed by the gateway: ``fallback``, ``loadbalance`` and ``conditional``
are compiled into the request's Portkey config unchanged. Two decisions are made here, before the
request is sent, because the gateway cannot make them:

- ``complexity`` (ours): the local classifier labels the request ``simple`` or ``complex`` and the
  matching branch is sent; the label also goes into the request's metadata (``complexity``), so
  conditional rules can read it;
- a ``loadbalance`` with a ``sticky`` key present in the request: the same key must get the same
  variant in every process, and the gateway picks at random (``Math.random``), so the variant is
  chosen by a hash of the key (``app.routing.sticky``) and sent as a loadbalance of that one variant
  (the gateway's report of the served path then still names the variant). Without the key the
  gateway picks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Union

from app.core.routing import TargetSpec
from app.core.strategy import Condition, Group
from app.routing.sticky import sticky_choice


@dataclass(frozen=True, slots=True)
class Leaf:
    """One target: ``provider/model``, plus parameters it adds when it serves."""

    spec: TargetSpec


@dataclass(frozen=True, slots=True)
class Fallback:
    """Children in order until one answers (``on_status_codes``: the statuses that move on; empty: any error)."""

    children: tuple[PolicyNode, ...]
    on_status_codes: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class LoadBalance:
    """One child per request, by weight; each child is a named variant."""

    children: tuple[PolicyNode, ...]
    names: tuple[str, ...]
    weights: tuple[float, ...]
    sticky: str | None = None
    """``metadata.<key>`` or ``params.<key>``: requests with the same value get the same variant."""
    salt: str = ""
    """Mixed into the sticky hash, so two experiments split the same users independently."""


@dataclass(frozen=True, slots=True)
class Conditional:
    """The first branch whose query matches the request, else ``default``."""

    queries: tuple[str, ...]
    """Portkey queries as canonical JSON, one per branch."""
    branches: tuple[PolicyNode, ...]
    names: tuple[str, ...]
    """One per branch, then the default's."""
    default: PolicyNode | None = None


@dataclass(frozen=True, slots=True)
class Complexity:
    """``simple`` or ``complex`` by the local classifier; ``threshold`` None: the settings' default."""

    simple: PolicyNode
    complex: PolicyNode
    threshold: float | None = None


PolicyNode = Union[Leaf, Fallback, LoadBalance, Conditional, Complexity]  # noqa: UP007 - a runtime alias


@dataclass
class RequestView:
    """What planning reads of a request: its metadata, parameters, and its complexity once known."""

    metadata: Mapping[str, str]
    params: Mapping[str, Any]
    classify: Callable[[], float]
    """The request's probability of being complex (computed at most once, on first use)."""
    default_threshold: float
    _probability: float | None = None

    def probability(self) -> float:
        """The classifier's probability that the request is complex (computed on first use)."""
        if self._probability is None:
            self._probability = self.classify()
        return self._probability

    def label(self, threshold: float | None) -> str:
        """``complex`` or ``simple``; a ``complexity`` the caller put in the metadata wins."""
        given = self.metadata.get("complexity")
        if given in ("simple", "complex"):
            return given
        cut = self.default_threshold if threshold is None else threshold
        return "complex" if self.probability() >= cut else "simple"

    def field(self, name: str) -> str | None:
        """The value of ``metadata.<key>`` or ``params.<key>`` as text; None when absent or empty."""
        source, _, key = name.partition(".")
        value = (self.metadata if source == "metadata" else self.params).get(key)
        return None if value is None or value == "" else str(value)


def resolve(node: PolicyNode, request: RequestView, decisions: dict[str, str]) -> TargetSpec | Group[TargetSpec]:
    """``node`` as the strategy tree to send for ``request``; client-side decisions go into ``decisions``."""
    if isinstance(node, Leaf):
        return node.spec
    if isinstance(node, Fallback):
        return Group("fallback", tuple(resolve(c, request, decisions) for c in node.children),
                     on_status_codes=node.on_status_codes)
    if isinstance(node, LoadBalance):
        key = request.field(node.sticky) if node.sticky else None
        if key is not None:
            chosen = sticky_choice(node.salt, key, node.weights)
            return Group("loadbalance", (resolve(node.children[chosen], request, decisions),),
                         names=(node.names[chosen],), weights=(1.0,))
        return Group("loadbalance", tuple(resolve(c, request, decisions) for c in node.children),
                     names=node.names, weights=node.weights)
    if isinstance(node, Conditional):
        children = [resolve(b, request, decisions) for b in node.branches]
        default = None
        if node.default is not None:
            children.append(resolve(node.default, request, decisions))
            default = len(children) - 1
        return Group("conditional", tuple(children), names=node.names[:len(children)],
                     conditions=tuple(Condition(q, i) for i, q in enumerate(node.queries)), default=default)
    label = request.label(node.threshold)
    decisions.setdefault("complexity", label)
    return resolve(node.simple if label == "simple" else node.complex, request, decisions)


def walk(node: PolicyNode) -> list[PolicyNode]:
    """``node`` and every node below it."""
    out: list[PolicyNode] = [node]
    if isinstance(node, (Fallback, LoadBalance)):
        children: tuple[PolicyNode, ...] = node.children
    elif isinstance(node, Conditional):
        children = (*node.branches, *([node.default] if node.default is not None else []))
    elif isinstance(node, Complexity):
        children = (node.simple, node.complex)
    else:
        children = ()
    for child in children:
        out.extend(walk(child))
    return out


def target_labels(node: PolicyNode) -> list[str]:
    """Every target below ``node``, as ``provider/model`` (or ``provider``), in order."""
    return [n.spec.label for n in walk(node) if isinstance(n, Leaf)]
