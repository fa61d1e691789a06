"""Request guards: authentication first, then the caller's rate limit."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from app.service.security import RateLimited, Unauthorized
from app.service.state import StateDep


async def authenticated(request: Request, state: StateDep) -> str:
    """The caller's rate-limit identity; answers 401 for a missing or unknown bearer token."""
    # async (it never blocks): FastAPI runs a sync dependency on a worker thread, a hop per request.
    client = request.client.host if request.client else "unknown"
    try:
        return state.auth.identify(request.headers.get("authorization"), client)
    except Unauthorized as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None


async def rate_limited(identity: Annotated[str, Depends(authenticated)], state: StateDep) -> str:
    """The caller's identity, once its request is counted; answers 429 with Retry-After over the rate."""
    try:
        await state.limiter.check(identity)
    except RateLimited as exc:
        raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after)}) from None
    return identity
