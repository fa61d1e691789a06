"""Per-provider request statistics for tests to assert on, and the keys the provider has revoked.

Only header *names* are kept: values may be API keys, and the stats endpoint is
readable by anything that can reach the control port. Keys are counted by fingerprint
(8 hex digits of their sha256), as ``sophia keys status`` shows them.
"""

from __future__ import annotations

import hashlib
from typing import Any


def key_fingerprint(key: str) -> str:
    """8 hex digits of the key's sha256 (``app.keys.fingerprint``'s form)."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]


class ProviderStats:
    """What one provider has been asked: requests per path, the last request (header names only), the
    keys used, and how many requests are in flight (received, not yet answered or abandoned)."""

    __slots__ = ("in_flight", "key_uses", "last_body", "last_headers", "last_path", "requests", "revoked", "total")

    def __init__(self) -> None:
        self.revoked: set[str] = set()
        """Fingerprints of keys this provider now refuses with 401 (a key rotated out); not reset with the stats."""
        self.in_flight = 0
        """Requests being served now (not reset with the stats: they are still open)."""
        self.reset()

    def reset(self) -> None:
        """Forget every request seen so far."""
        self.requests: dict[str, int] = {}
        self.total = 0
        self.last_path: str | None = None
        self.last_headers: list[str] = []
        self.last_body: Any = None
        self.key_uses: dict[str, int] = {}

    def used_key(self, key: str) -> bool:
        """Count a request's key by fingerprint; False when the key is revoked."""
        fp = key_fingerprint(key)
        self.key_uses[fp] = self.key_uses.get(fp, 0) + 1
        return fp not in self.revoked

    def record(self, path: str, header_names: list[str], body: Any) -> None:
        """Count one request to ``path`` and keep it as the last one."""
        self.requests[path] = self.requests.get(path, 0) + 1
        self.total += 1
        self.last_path = path
        self.last_headers = header_names
        self.last_body = body

    def snapshot(self, faults_applied: int) -> dict:
        """The stats as JSON, with how many faults were applied."""
        return {
            "requests": dict(self.requests),
            "total": self.total,
            "in_flight": self.in_flight,
            "faults_applied": faults_applied,
            "last_path": self.last_path,
            "last_headers": list(self.last_headers),
            "last_body": self.last_body,
            "key_uses": dict(self.key_uses),
            "revoked": sorted(self.revoked),
        }
