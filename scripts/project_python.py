"""Run this checkout's scripts under its virtualenv, whichever `python` the user typed.

`make setup` installs the dependencies into `.venv`; a script started by another interpreter (the
system's `python3`) re-runs itself under `.venv/bin/python`, or says exactly what to run first.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".venv"
_REEXEC = "SOPHIA_SCRIPT_REEXEC"


def _has_dependencies() -> bool:
    try:
        import httpx2  # noqa: F401
        import pydantic_settings  # noqa: F401
        import typer  # noqa: F401
    except ImportError:
        return False
    return True


def use_project_python(script: str) -> None:
    """Re-run ``script`` under ``.venv/bin/python`` unless this is that interpreter; exit with what to
    run when there is no ``.venv`` and this interpreter lacks the dependencies. Returns when it can run."""
    python = VENV / "bin" / "python"
    in_venv = Path(sys.prefix).resolve() == VENV.resolve()
    if not in_venv and python.exists() and not os.environ.get(_REEXEC):  # the marker stops any loop
        os.execve(python, [str(python), script, *sys.argv[1:]], {**os.environ, _REEXEC: "1"})
    if not _has_dependencies():
        sys.exit(f"{Path(script).name} needs the project's dependencies, and {sys.executable} does not have "
                 f"them.\nRun `make setup` in {REPO} first (it creates .venv), then the same command again: "
                 "the script then re-runs itself under .venv/bin/python.")
    sys.path.insert(0, str(REPO))  # make the `app` package importable from a checkout
