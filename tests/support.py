"""Helpers shared by test modules (conftest files are not importable as modules)."""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def need_service(what: str, reason: str) -> None:
    """A missing service fails the test under CI=true and skips it loudly elsewhere."""
    message = f"{what} unavailable ({reason}); start it (see DESIGN.md section 5) to run this test"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)
