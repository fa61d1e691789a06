"""LiteLLM in a virtual environment of its own, for the peer benchmark only.

LiteLLM is never a dependency of ours. ``ensure()`` creates ``bench/.litellm-venv`` (git-ignored) on
first use with one pinned version, and rebuilds it when the pin changes. The pin, 1.106.12, is a recent
release whose ``proxy`` extra resolves from the package index here (several newer ones ask for
``litellm-proxy-extras`` builds the index does not carry: check a new pin with
``pip install --dry-run 'litellm[proxy]==X'``). Never 1.82.7 or 1.82.8: those were compromised releases.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LITELLM_VERSION = "1.106.12"
REQUIREMENT = f"litellm[proxy]=={LITELLM_VERSION}"
VENV = Path(__file__).resolve().with_name(".litellm-venv")
_PIN_FILE = VENV / "installed-requirement.txt"

# As users run it with a price entry for the model, and nothing fetched from the network at start:
# the cost map bundled with the package instead of downloading the latest one. (This version has no
# telemetry left to turn off: its `--telemetry` proxy flag is a documented no-op.)
LITELLM_ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True"}


def ensure() -> Path:
    """The environment's ``bin`` directory, creating the environment first when needed."""
    bin_dir = VENV / "bin"
    if _PIN_FILE.exists() and _PIN_FILE.read_text().strip() == REQUIREMENT:
        return bin_dir
    print(f"creating {VENV} with {REQUIREMENT} (once; about a minute)", file=sys.stderr)
    base_python = getattr(sys, "_base_executable", sys.executable)  # not our venv's interpreter
    subprocess.run([base_python, "-m", "venv", "--clear", str(VENV)], check=True)
    subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    REQUIREMENT], check=True)
    _PIN_FILE.write_text(REQUIREMENT + "\n")
    return bin_dir
