"""Our exceptions as OpenAI's error JSON (``{"error": {"message", "type", "param", "code"}}``).

One table from exception class to status and type; the first matching class (most specific
first) wins. Provider authentication failures become 502: the caller's credentials were fine,
ours upstream were not, and a 401 would tell the caller the wrong thing.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core import errors as e
from app.core.redaction import redact

log = logging.getLogger("app.service")

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "insufficient_quota",
          403: "permission_error", 404: "not_found_error", 408: "timeout_error", 413: "invalid_request_error",
          429: "rate_limit_error", 504: "timeout_error"}


def error_body(status: int, message: str, *, code: str | None = None, param: str | None = None,
               **extra: Any) -> dict[str, Any]:
    """OpenAI's error JSON for ``status``; the message is redacted, ``extra`` adds our fields."""
    kind = _TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": redact(message), "type": kind, "param": param, "code": code, **extra}}


def _error_response(status: int, message: str, *, headers: dict[str, str] | None = None,
                   **kwargs: Any) -> JSONResponse:
    return JSONResponse(error_body(status, message, **kwargs), status_code=status, headers=headers)


def describe(exc: BaseException) -> tuple[int, str, dict[str, Any]]:
    """(status, code, extra fields) for one of our exceptions."""
    if isinstance(exc, e.AllProvidersFailedError):
        return 502, "all_providers_failed", {"attempts": [a.model_dump() for a in exc.attempts]}
    if isinstance(exc, e.ProviderError):
        status = exc.status or 502
        if status in (401, 403) or not 400 <= status < 600:
            status = 502
        return status, "provider_error", {"provider": exc.provider}
    if isinstance(exc, e.UnknownProviderError | e.UnknownModelError):
        return 404, "model_not_found", {}
    if isinstance(exc, e.ProviderNotConfiguredError):
        return 503, "provider_not_configured", {"env_vars": list(exc.env_vars)}
    if isinstance(exc, e.ConfigurationError):
        return 503, "configuration_error", {"env_vars": list(exc.env_vars)}
    if isinstance(exc, e.InvalidRequestError):
        return 400, "invalid_request", {}
    if isinstance(exc, e.LimitError):
        status = {e.BudgetExceededError: 402, e.LimitsUnavailableError: 503}.get(type(exc), 429)
        code = {402: "budget_exceeded", 503: "limits_unavailable"}.get(status, "limit_exceeded")
        return status, code, {"scope": exc.scope, "limit": exc.limit, "resets_at": round(exc.resets_at)}
    if isinstance(exc, e.GatewayTimeoutError):
        return 504, "gateway_timeout", {}
    if isinstance(exc, e.GatewayConnectionError):
        return 503, "gateway_unavailable", {}
    if isinstance(exc, e.StreamInterruptedError):
        return 502, "stream_interrupted", {"provider": exc.provider}
    return 500, "internal_error", {}


def invalid_json_message(body: Any, error: Mapping[str, Any]) -> str:
    """"request body is not valid JSON (line L, column C): <why>" from FastAPI's ``json_invalid`` error,
    whose location holds the character offset into ``body`` (the raw text)."""
    loc = error.get("loc", ())
    offset = loc[-1] if loc and isinstance(loc[-1], int) else None
    why = (error.get("ctx") or {}).get("error")
    detail = f": {why}" if why else ""
    if offset is None or not isinstance(body, str | bytes):
        return f"request body is not valid JSON{detail}"
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"request body is not valid JSON (line {line}, column {column}){detail}"


def install(app: FastAPI) -> None:
    """Make ``app`` answer every error (ours, validation, HTTP, unexpected) as OpenAI's error JSON."""
    async def sophia_error(request: Request, exc: e.SophiaError) -> JSONResponse:
        status, code, extra = describe(exc)
        headers = {}
        retry_after = getattr(exc, "retry_after", None)
        if status in (402, 429, 503) and retry_after:
            headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        return _error_response(status, str(exc), code=code, headers=headers, **extra)

    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        if first.get("type") == "json_invalid":
            return _error_response(400, invalid_json_message(exc.body, first), code="invalid_json")
        if first.get("type") == "missing" and tuple(first.get("loc", ())) == ("body",):
            return _error_response(400, "request body is empty; expected a JSON object", code="invalid_json")
        loc = [str(p) for p in first.get("loc", ()) if p != "body"]
        message = f"{'.'.join(loc) or 'body'}: {first.get('msg', 'invalid request')}"
        return _error_response(400, message, code="invalid_request", param=".".join(loc) or None)

    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error_response(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled %s on %s", type(exc).__name__, request.url.path, exc_info=exc)
        return _error_response(500, f"internal error ({type(exc).__name__})", code="internal_error")

    app.add_exception_handler(e.SophiaError, sophia_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, unexpected)
