"""Where the simulators' ids and timestamps come from.

Normally from fresh randomness and the clock, like a real provider. Within :func:`seeded` (the
``--stable-ids`` option) they come from a generator seeded by the request (provider, model, last user
message) and a fixed timestamp, so the same request always gets the same bytes: what byte-exact
comparisons need, e.g. of one stream through two builds of the gateway.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

STABLE_TIMESTAMP = 1_700_000_000
_generator: ContextVar[random.Random | None] = ContextVar("simulator_generator", default=None)


@contextmanager
def seeded(*request_parts: str) -> Iterator[None]:
    """Derive every id and timestamp made inside the block from ``request_parts``."""
    seed = hashlib.sha256("\0".join(request_parts).encode("utf-8")).digest()
    token = _generator.set(random.Random(seed))
    try:
        yield
    finally:
        _generator.reset(token)


def token_hex(nbytes: int) -> str:
    """Like ``secrets.token_hex``, or derived from the request inside ``seeded``."""
    generator = _generator.get()
    return secrets.token_hex(nbytes) if generator is None else generator.randbytes(nbytes).hex()


def uuid4() -> str:
    """A random uuid4 string, or one derived from the request inside ``seeded``."""
    generator = _generator.get()
    return str(uuid.uuid4() if generator is None else uuid.UUID(bytes=generator.randbytes(16), version=4))


def timestamp() -> int:
    """The current Unix time, or a fixed one inside ``seeded``."""
    return int(time.time()) if _generator.get() is None else STABLE_TIMESTAMP
