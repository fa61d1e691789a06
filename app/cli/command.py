"""Running one typer command as a program of its own (the spec's two scripts reuse the CLI's commands)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer


def run_command(command: Callable[..., Any], argv: list[str] | None, prog_name: str) -> int:
    """Run ``command`` with ``argv`` (default: the process's arguments); its exit code."""
    program = typer.Typer(add_completion=False)
    program.command()(command)
    try:
        program(args=argv, prog_name=prog_name)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0
