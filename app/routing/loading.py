"""Loading the effective routing policy: the built-in file, then ``SOPHIA_ROUTING_FILE``, then ``ROLE_CHAINS``.

- The built-in file (``builtin.yaml``, package data) holds the spec's eight roles.
- ``SOPHIA_ROUTING_FILE`` adds roles, routes and workflows; a role it shares with the built-in file overrides
  it field by field (a file that only gives ``artemis/code_reviewer`` a new strategy keeps its prompt).
- ``ROLE_CHAINS`` (JSON, the older way to change a role's chain) replaces the named roles' strategies
  with a fallback over the listed targets, after the file; prefer the routing file.

Every problem of the file is reported at once, each with its line and field.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any, NamedTuple

from app.core.errors import ConfigurationError, SophiaError
from app.core.routing import TargetSpec
from app.routing.located import Problem, YamlSyntaxError, read_yaml
from app.routing.nodes import Fallback, Leaf
from app.routing.policy import Role, Route, RoutingPolicy, Strategy
from app.routing.schema import RoleEntry, read_document
from app.routing.workflow_file import read_workflows
from app.routing.workflow_specs import WorkflowSpec

BUILTIN = "built-in"
ENV_VAR = "SOPHIA_ROUTING_FILE"


class RoutingFileError(ConfigurationError):
    """A routing file has problems; ``problems`` lists each with its line and field."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        problems = sorted(problems, key=lambda p: (p.line, p.column))
        lines = "\n".join(f"  {p.describe(source)}" for p in problems)
        super().__init__(f"the routing file {source} has {len(problems)} problem(s):\n{lines}",
                         env_vars=[ENV_VAR])
        self.source = source
        self.problems = tuple(problems)


@lru_cache(maxsize=1)
def builtin_text() -> str:
    """The built-in routing file (package data: read once)."""
    return files("app.routing").joinpath("builtin.yaml").read_text(encoding="utf-8")


class FileContents(NamedTuple):
    """What one routing file defines."""

    roles: dict[str, RoleEntry]
    routes: dict[str, Route]
    workflows: dict[str, WorkflowSpec]


def parse_file(text: str, source: str) -> FileContents:
    """The roles, routes and workflows of one routing file; raises ``RoutingFileError`` naming every problem."""
    try:
        document = read_yaml(text)
    except YamlSyntaxError as exc:
        raise RoutingFileError(source, [exc.problem]) from None
    if document is None:
        return FileContents({}, {}, {})
    roles, routes, problems = read_document(document)
    workflows: dict[str, WorkflowSpec] = {}
    if document.is_mapping and "workflows" in document.value:  # a step's role: built in or in this file
        workflows, more = read_workflows(document, {*_parsed(builtin_text(), BUILTIN).roles, *roles})
        problems = [*problems, *more]
    if problems:
        raise RoutingFileError(source, problems)
    return FileContents(roles, routes, workflows)


@lru_cache(maxsize=8)
def _parsed(text: str, source: str) -> FileContents:
    return parse_file(text, source)


def compose(builtin: Mapping[str, RoleEntry], extra: Mapping[str, RoleEntry], routes: Mapping[str, Route],
            role_chains: Mapping[str, Sequence[str]], version: str, source: str,
            workflows: Mapping[str, WorkflowSpec] | None = None) -> RoutingPolicy:
    """The effective policy: built-in roles, overridden and extended by a file, then by ``ROLE_CHAINS``;
    the file's workflows."""
    problems: list[Problem] = []
    roles: dict[str, Role] = {}
    for key in [*builtin, *(k for k in extra if k not in builtin)]:
        base, over = builtin.get(key), extra.get(key)
        merged = _merge(base, over)
        missing = [f for f in ("system_prompt", "strategy") if getattr(merged, f) is None]
        if missing:
            problems.append(Problem(merged.line, 1, f"roles.{key}",
                                    f"a new role needs {' and '.join(missing).replace('strategy', 'a strategy')}"))
            continue
        domain, _, name = key.partition("/")
        assert merged.system_prompt is not None and merged.strategy is not None
        roles[key] = Role(domain, name, merged.description or "", merged.system_prompt, Strategy(merged.strategy),
                          merged.output, bool(merged.grounded))
    if problems:
        raise RoutingFileError(source, problems)
    for key, chain in role_chains.items():
        if key not in roles:
            raise ConfigurationError(f"ROLE_CHAINS names unknown role {key!r}; roles: {', '.join(roles)}",
                                     env_vars=["ROLE_CHAINS"])
        try:
            leaves = tuple(Leaf(TargetSpec.parse(entry)) for entry in chain)
        except SophiaError as exc:
            raise ConfigurationError(f"ROLE_CHAINS[{key!r}]: {exc}", env_vars=["ROLE_CHAINS"]) from None
        old = roles[key]
        roles[key] = Role(old.domain, old.name, old.description, old.system_prompt, Strategy(Fallback(leaves)),
                          old.output, old.grounded)
    return RoutingPolicy(roles, dict(routes), version, source, dict(workflows or {}))


def _merge(base: RoleEntry | None, over: RoleEntry | None) -> RoleEntry:
    if base is None:
        assert over is not None
        return over
    if over is None:
        return base
    return RoleEntry(
        key=base.key, line=over.line,
        description=over.description or base.description,
        system_prompt=over.system_prompt or base.system_prompt,
        output=over.output or base.output,
        strategy=over.strategy or base.strategy,
        grounded=base.grounded if over.grounded is None else over.grounded,
    )


def load_policy(settings: Any, path: str | Path | None = None) -> RoutingPolicy:
    """The effective policy for ``settings`` (``SOPHIA_ROUTING_FILE``, ``ROLE_CHAINS``, ``SEMANTIC_CACHE_ROLES``);
    ``path`` overrides the file. Raises ``RoutingFileError`` or ``ConfigurationError`` naming the problem."""
    file = path if path is not None else getattr(settings, "sophia_routing_file", None)
    text = None
    if file:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(f"{ENV_VAR}={file} cannot be read ({exc.strerror or type(exc).__name__})",
                                     env_vars=[ENV_VAR]) from None
        if not text.strip():  # a file being rewritten, or a mistake: never "no routes at all"
            raise ConfigurationError(f"{ENV_VAR}={file} is empty", env_vars=[ENV_VAR])
    policy = _policy(Path(file) if file else None, text, dict(getattr(settings, "role_chains", None) or {}))
    for variable in ("semantic_cache_roles", "role_deadlines", "role_limits"):
        unknown = [r for r in getattr(settings, variable, None) or () if r not in policy.roles and r != "*"]
        if unknown:
            raise ConfigurationError(f"{variable.upper()} names unknown role(s) {', '.join(unknown)}; roles: "
                                     f"{', '.join(policy.roles)}", env_vars=[variable.upper()])
    return policy


def check_file(path: str | Path) -> RoutingPolicy:
    """Validate a routing file on its own (on top of the built-in roles), as ``sophia routes check`` does:
    the policy a service would load from it (the same version) without ``ROLE_CHAINS``."""
    return _policy(Path(path), Path(path).read_text(encoding="utf-8"), {})


def _policy(file: Path | None, text: str | None, role_chains: Mapping[str, Sequence[str]]) -> RoutingPolicy:
    """The built-in roles, then ``file`` (its ``text``), then ``role_chains``; the version digests all three."""
    digest = hashlib.sha256(builtin_text().encode())
    extra: Mapping[str, RoleEntry] = {}
    routes: Mapping[str, Route] = {}
    workflows: Mapping[str, WorkflowSpec] = {}
    source = BUILTIN
    if file is not None and text is not None:
        extra, routes, workflows = _parsed(text, str(file))
        digest.update(text.encode())
        source = f"{BUILTIN} + {file}"
    digest.update(repr(sorted(role_chains.items())).encode())
    return compose(_parsed(builtin_text(), BUILTIN).roles, extra, routes, role_chains, digest.hexdigest()[:12],
                   source, workflows)
