"""The shape of ``app/``, read from the source: imports point one way, and settings are read at the edge.

Every import counts, including those inside functions and under ``TYPE_CHECKING``: a cycle that only
shows at run time is still a cycle for the next reader.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Lowest first. A module may import from its own layer and the layers below it, never above.
# An entry names a package and everything in it; "=name" names that one module (a package's
# __init__ included), so a public facade can sit higher than the package's internals.
ROOT_LAYER = {"app.runtime", "app.core.portkey_config", "app.core.vector_db_config",
              "=app.memory", "=app.memory.mem0", "=app.documents", "=app.documents.process"}
LAYERS: list[set[str]] = [
    {"app.core", "app.routing"},                                         # routing core and policies, transport, errors
    {"app.embeddings", "app.vectors", "app.gateway", "app.simulators"},  # engines and processes
    {"app.cache", "app.memory", "app.documents", "app.telemetry",        # built on the engines
     "app.analytics", "app.resilience", "app.alerts", "app.keys"},
    {"app.health"},
    {"app.agents"},                                                      # agent policy
    ROOT_LAYER,  # the composition root, and the facades that build their defaults from it
    {"app.artemis", "app.sophia"},                                       # the spec's factories and getters
    {"app.workflows"},                                                   # multi-agent workflows over both
    {"app.sandbox", "app.demo"},
    {"app.service", "app.cli"},                                          # the edges
]
COMPOSITION = LAYERS.index(ROOT_LAYER)

# Reading the process environment is the job of the settings (pydantic-settings) and of the edges.
ENVIRON_ALLOWED = {
    "app/cli/setup_keys.py": "collects keys from the environment to write .env (setup --non-interactive)",
    "app/gateway/process.py": "the gateway child process inherits our environment (PATH) plus its own",
    "app/service/server.py": "`serve --workers N` hands the sandbox's variables to uvicorn's worker processes",
    "app/vectors/milvus.py": "pymilvus parses MILVUS_URI (and loads .env) on import: it is shown an empty one",
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in (ROOT / "app").rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path) -> Iterator[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            names = [f"{base}.{alias.name}" for alias in node.names]  # a submodule, or a name in ``base``
        else:
            continue
        for name in names:
            target = _resolve(name)
            if target and target != module and target.startswith("app"):
                yield target


GRAPH = {module: set(_imports(module, path)) for module, path in MODULES.items()}


def _layer(module: str) -> int:
    best, found = -1, -1
    for index, layer in enumerate(LAYERS):
        for entry in layer:
            if entry.startswith("="):
                if module == entry[1:]:
                    return index
            elif (module == entry or module.startswith(entry + ".")) and len(entry) > best:
                best, found = len(entry), index
    return found


def test_every_module_has_a_layer():
    assert [m for m in MODULES if m != "app" and _layer(m) < 0] == []


def test_imports_never_point_up():
    upward = [f"{a} -> {b}" for a, targets in GRAPH.items() for b in targets
              if a != "app" and b != "app" and _layer(b) > _layer(a)]
    assert upward == []


def test_the_import_graph_has_no_cycles():
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in GRAPH.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = [stack.pop()]
            while component[-1] != v:
                component.append(stack.pop())
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in MODULES:
        if module not in index:
            visit(module)
    assert cycles == []


def test_only_the_composition_root_and_above_reach_the_process_runtime():
    reaching = {m for m, path in MODULES.items()
                if "get_portkey_manager" in path.read_text() or "process_runtime" in path.read_text()}
    assert {m for m in reaching if _layer(m) < COMPOSITION} == set()


@pytest.mark.parametrize("path", sorted(p for p in (ROOT / "app").rglob("*.py")), ids=lambda p: str(p.name))
def test_settings_are_read_at_the_edge(path: Path):
    relative = str(path.relative_to(ROOT))
    if relative in ENVIRON_ALLOWED:
        return
    source = path.read_text()
    assert "os.environ" not in source and "getenv(" not in source, f"{relative} reads the environment"
