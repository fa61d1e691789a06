"""Errors built from what the gateway answered: one status-keyed error, or "every target failed".

Everything that came from elsewhere (the provider's message and body, the response headers) is
scrubbed of configured secrets and key-shaped strings before it reaches an exception.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from app.core.errors import AllProvidersFailedError, ProviderError, error_class_for_status
from app.core.redaction import redact, redact_data
from app.core.results import Attempt, summarize_attempts
from app.core.routing import Chain
from app.core.transport import Response, parse_json_error

# Response headers worth keeping on an error: what the gateway tells about routing and limits.
_KEPT_HEADERS = ("retry-after", "content-type", "x-portkey-", "x-sophia-attempts", "x-ratelimit-")


def _kept_headers(headers: Mapping[str, str], secrets: Sequence[str]) -> dict[str, str]:
    return {name: redact(value, secrets) for name, value in headers.items()
            if name.lower().startswith(_KEPT_HEADERS)}


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header in seconds (the date form is not used by providers we route to)."""
    try:
        return float(value) if value else None
    except ValueError:
        return None


def failure_from_response(response: Response, chain: Chain, attempts: Sequence[Attempt], trace_id: str,
                          secrets: Sequence[str]) -> ProviderError:
    """The error for a non-2xx answer: status-keyed for a one-target chain, else AllProvidersFailedError."""
    message, body = parse_json_error(response)
    message = redact(message, secrets)
    body = redact_data(body, secrets)
    headers = _kept_headers(response.headers, secrets)
    status = response.status_code
    if len(chain.targets) > 1:
        return AllProvidersFailedError(attempts, status=status, trace_id=trace_id, detail=message, body=body,
                                       headers=headers)
    tried = summarize_attempts(list(attempts)) or chain.primary.label
    error = error_class_for_status(status)(
        f"{tried}: {message}", provider=chain.primary.provider.name, status=status, trace_id=trace_id,
        retry_after=retry_after_seconds(response.headers.get("retry-after")), body=body, headers=headers,
    )
    error.attempts = tuple(attempts)
    return error


def exhausted(attempts: Sequence[Attempt], trace_id: str, detail: str) -> AllProvidersFailedError:
    """Every target was tried and none produced a usable answer (no HTTP status to key on)."""
    return AllProvidersFailedError(attempts, status=None, trace_id=trace_id, detail=detail)


__all__ = ["exhausted", "failure_from_response", "retry_after_seconds"]

