"""Request guards: authentication first, then the caller's rate limit.

Each guard is one flat dependency on the request: FastAPI solves every node of a dependency tree
again for each request (sub-dependencies of a cached one included), and a nested tree cost the
chat endpoint about 0.1 ms of CPU per request.
"""

from __future__ import annotations

from fastapi import HTTPException, Request

from app.service.security import RateLimited, Unauthorized
from app.service.state import ServiceState, state_of


def _identify(request: Request, state: ServiceState) -> str:
    client = request.client.host if request.client else "unknown"
    try:
        return state.auth.identify(request.headers.get("authorization"), client)
    except Unauthorized as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None


async def authenticated(request: Request) -> str:
    """The caller's rate-limit identity; answers 401 for a missing or unknown bearer token."""
    # async (it never blocks): FastAPI runs a sync dependency on a worker thread, a hop per request.
    return _identify(request, state_of(request))


async def rate_limited(request: Request) -> str:
    """The caller's identity, once authenticated and its request counted; answers 429 with Retry-After
    over the rate."""
    state = state_of(request)
    identity = _identify(request, state)
    try:
        await state.limiter.check(identity)
    except RateLimited as exc:
        raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after)}) from None
    return identity
