"""Which workflows exist: the built-ins, those of the routing file (``workflows:``) and those registered
in Python. A name defined in more than one place: Python registration wins over the routing file,
which wins over a built-in (as a routing file's role overrides a built-in role)."""

from __future__ import annotations

import threading

from app.core.errors import InvalidRequestError
from app.routing import RoutingPolicy
from app.workflows.builtin import BUILTIN
from app.workflows.definition import Workflow
from app.workflows.from_file import compiled

_registered: dict[str, Workflow] = {}
_lock = threading.Lock()


def register_workflow(workflow: Workflow) -> None:
    """Make ``workflow`` runnable by name (``run_workflow("name", ...)``, the CLI, the service) in this process."""
    if not isinstance(workflow, Workflow):
        raise InvalidRequestError("register_workflow takes a Workflow")
    with _lock:
        _registered[workflow.name] = workflow


def unregister_workflow(name: str) -> None:
    """Forget a workflow registered with ``register_workflow`` (built-in and file ones stay)."""
    with _lock:
        _registered.pop(name, None)


def workflows(policy: RoutingPolicy) -> dict[str, Workflow]:
    """Every workflow runnable under ``policy``, by name."""
    return {**BUILTIN, **compiled(policy), **_registered}


def find_workflow(name: str, policy: RoutingPolicy) -> Workflow:
    """The workflow called ``name``; raises ``InvalidRequestError`` listing the known ones."""
    known = workflows(policy)
    found = known.get(name)
    if found is None:
        raise InvalidRequestError(f"unknown workflow {name!r}; workflows: {', '.join(sorted(known))}")
    return found
