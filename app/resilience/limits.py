"""Limits and budgets per role, per agent and per API token, for every call of the manager.

    ROLE_LIMITS='{"*": {"requests_per_minute": 120}, "sophia/market_analyst": {"usd_per_day": 5}}'
    AGENT_LIMITS='{"*": {"requests_per_minute": 30, "tokens_per_minute": 50000}}'
    API_TOKEN_LIMITS='{"*": {"requests_per_minute": 60, "usd_per_month": 100}}'

A call's scopes come from its metadata: ``domain`` + ``role`` (the factories send them), ``agent_id``,
and ``api_token`` (the service puts its caller's token digest there). Before anything is sent, each
scope's requests per minute (a moving window: exact), tokens per minute (a sliding window counter)
and USD spent today and this month (UTC calendar day and month; cost from ``app.core.pricing``) are
checked; a call over one raises ``RateLimitExceededError`` or ``BudgetExceededError`` naming the
scope, the limit and when it resets. After the call its tokens and cost are added. Counters live in
the ``limits`` library's storage: Redis (shared by every instance, on a pool that rides out a
restart) with ``REDIS_URL``, else this process's memory. While the store is down calls go through
(one warning), or are refused with ``LimitsUnavailableError`` under ``LIMITS_FAIL_CLOSED``.

Calls already in flight are not counted against the tokens and budgets until they finish, so a
burst can overshoot a token or USD limit by what its concurrent calls use; requests per minute are
exact.
"""

from __future__ import annotations

import calendar
import hashlib
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from limits import RateLimitItemPerMinute
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter

from app.core.errors import BudgetExceededError, LimitError, LimitsUnavailableError, RateLimitExceededError
from app.core.outage import Outage
from app.core.pricing import cost_usd
from app.core.redis_link import limits_storage
from app.core.results import RoutingInfo
from app.resilience.metrics import LIMITED
from app.routing.policy import role_key

log = logging.getLogger("app.resilience")

MICRO = 1_000_000
"""Budgets are counted in micro-dollars (integers: the storage counts with INCRBY)."""


@dataclass(frozen=True, slots=True)
class Scope:
    """One thing a call is counted against: a role, an agent or an API token, and its limits."""

    kind: str
    subject: str
    limits: Any
    """``app.core.settings.CallerLimits``."""


def token_digest(token: str) -> str:
    """How an API token is named in limits and keys: ``token:`` + 24 hex digits of its sha256."""
    return f"token:{hashlib.sha256(token.encode()).hexdigest()[:24]}"


def token_subject(token: str) -> str:
    """A call's ``api_token`` metadata as limits and alerts name it: the service already sends a
    ``token:``/``ip:`` name; a raw token from the Python API is digested, never kept."""
    return token if token.startswith(("token:", "ip:")) else token_digest(token)


def _period_ends(now: float) -> tuple[str, float, str, float]:
    """(day key, end of the UTC day, month key, end of the UTC month) for ``now``."""
    at = datetime.fromtimestamp(now, UTC)
    day_end = calendar.timegm((at.year, at.month, at.day, 0, 0, 0)) + 86400
    year, month = (at.year + 1, 1) if at.month == 12 else (at.year, at.month + 1)
    month_end = calendar.timegm((year, month, 1, 0, 0, 0))
    return at.strftime("%Y-%m-%d"), float(day_end), at.strftime("%Y-%m"), float(month_end)


class CallLimits:
    """The manager's ``LimitPort``: admits calls and accounts for what they used."""

    def __init__(self, role_limits: Mapping[str, Any], agent_limits: Mapping[str, Any],
                 api_token_limits: Mapping[str, Any], *, redis_url: str | None = None, namespace: str = "sophia",
                 fail_closed: bool = False, clock: Any = time.time) -> None:
        self._tables = {"role": dict(role_limits), "agent": dict(agent_limits), "api_token": dict(api_token_limits)}
        self.fail_closed = fail_closed
        self._clock = clock
        self.storage: Storage = limits_storage(redis_url, f"{namespace}-limits")
        self.shared = bool(redis_url)
        self._requests = MovingWindowRateLimiter(self.storage)
        self._tokens = SlidingWindowCounterRateLimiter(self.storage)
        self.outage = Outage("limit store", 1.0, log,
                             consequence="calls are refused" if fail_closed else "calls are not limited")

    @property
    def active(self) -> bool:
        """True when any limit is set."""
        return any(self._tables.values())

    def scopes(self, metadata: Mapping[str, str] | None) -> list[Scope]:
        """The scopes a call with ``metadata`` counts against (those with limits)."""
        metadata = metadata or {}
        token = metadata.get("api_token")
        subjects = {
            "api_token": token_subject(token) if token else None,
            "role": role_key(metadata["domain"], metadata["role"]) if "domain" in metadata and "role" in metadata
            else None,
            "agent": metadata.get("agent_id"),
        }
        out = []
        for kind, subject in subjects.items():
            if not subject:
                continue
            table = self._tables[kind]
            limits = table.get(subject) or table.get("*")
            if limits is not None:
                out.append(Scope(kind, subject, limits))
        return out

    async def admit(self, metadata: Mapping[str, str] | None) -> None:
        """Count one call against its scopes; raises a ``LimitError`` subclass when one is used up."""
        scopes = self.scopes(metadata)
        if not scopes:
            return
        if self.outage.paused:
            self._unavailable()
            return
        try:
            await self._check(scopes)
            for scope in scopes:
                if scope.limits.requests_per_minute:
                    item = RateLimitItemPerMinute(scope.limits.requests_per_minute)
                    if not await self._requests.hit(item, "requests", scope.kind, scope.subject):
                        await self._refuse_rate(scope, "requests_per_minute", item, self._requests)
        except LimitError as refused:
            LIMITED.labels(refused.scope, refused.limit).inc()
            self.outage.succeeded()
            raise
        except Exception as exc:  # noqa: BLE001 - a broken limit store must not take the API down
            self.outage.failed(type(exc).__name__)
            self._unavailable()
            return
        self.outage.succeeded()

    async def _check(self, scopes: list[Scope]) -> None:
        # Everything that would refuse the call is looked at before anything is counted.
        now = self._clock()
        day, day_end, month, month_end = _period_ends(now)
        for scope in scopes:
            limits = scope.limits
            if limits.requests_per_minute:
                item = RateLimitItemPerMinute(limits.requests_per_minute)
                if not await self._requests.test(item, "requests", scope.kind, scope.subject):
                    await self._refuse_rate(scope, "requests_per_minute", item, self._requests)
            if limits.tokens_per_minute:
                item = RateLimitItemPerMinute(limits.tokens_per_minute)
                if not await self._tokens.test(item, "tokens", scope.kind, scope.subject):
                    await self._refuse_rate(scope, "tokens_per_minute", item, self._tokens)
            for name, budget, period, ends in (("usd_per_day", limits.usd_per_day, day, day_end),
                                               ("usd_per_month", limits.usd_per_month, month, month_end)):
                if budget is None:
                    continue
                spent = await self.storage.get(self._budget_key(scope, period)) / MICRO
                if spent >= budget:
                    raise BudgetExceededError(
                        f"the {scope.kind} {scope.subject} has spent ${spent:.4f} of its {name} budget of "
                        f"${budget:g}; it resets at {datetime.fromtimestamp(ends, UTC).isoformat()}",
                        scope=scope.kind, subject=scope.subject, limit=name, allowed=budget,
                        retry_after=max(1.0, ends - now), resets_at=ends)

    async def _refuse_rate(self, scope: Scope, name: str, item: Any, limiter: Any) -> None:
        stats = await limiter.get_window_stats(item, name.split("_")[0], scope.kind, scope.subject)
        retry_after = max(1, math.ceil(stats.reset_time - self._clock()))
        allowed = item.amount
        raise RateLimitExceededError(
            f"the {scope.kind} {scope.subject} is over its limit of {allowed} {name.replace('_per_minute', '')} "
            f"per minute; retry in {retry_after} s",
            scope=scope.kind, subject=scope.subject, limit=name, allowed=allowed, retry_after=retry_after,
            resets_at=stats.reset_time)

    async def spent(self, scope: Scope) -> list[tuple[str, float, float]]:
        """(limit, USD spent in its current period, budget) for each budget ``scope`` has (alerts read it)."""
        day, _, month, _ = _period_ends(self._clock())
        out = []
        for name, budget, period in (("usd_per_day", scope.limits.usd_per_day, day),
                                     ("usd_per_month", scope.limits.usd_per_month, month)):
            if budget is not None:
                out.append((name, await self.storage.get(self._budget_key(scope, period)) / MICRO, budget))
        return out

    def _budget_key(self, scope: Scope, period: str) -> str:
        return f"usd/{scope.kind}/{scope.subject}/{period}"

    def _unavailable(self) -> None:
        if self.fail_closed:
            now = self._clock()
            raise LimitsUnavailableError(
                "the limit store is unavailable and LIMITS_FAIL_CLOSED is set: calls are refused until it is back",
                scope="store", subject="-", limit="store", allowed=0, retry_after=1.0, resets_at=now + 1)

    async def account(self, metadata: Mapping[str, str] | None, routing: RoutingInfo | None) -> None:
        """Add a finished call's tokens and cost to its scopes (nothing for a cache hit or an error)."""
        if routing is None or routing.cached:
            return
        scopes = self.scopes(metadata)
        tokens = routing.usage.prompt_tokens + routing.usage.completion_tokens
        if not scopes or self.outage.paused:
            return
        cost = cost_usd(routing.provider, routing.model, routing.usage.prompt_tokens,
                        routing.usage.completion_tokens) or 0.0
        now = self._clock()
        day, day_end, month, month_end = _period_ends(now)
        try:
            for scope in scopes:
                limits = scope.limits
                if limits.tokens_per_minute and tokens:
                    item = RateLimitItemPerMinute(limits.tokens_per_minute)
                    ids = ("tokens", scope.kind, scope.subject)
                    if not await self._tokens.hit(item, *ids, cost=tokens):
                        # More than the window has left: it is full until it slides (the library
                        # refuses a hit that would overshoot, so what is left is taken).
                        left = (await self._tokens.get_window_stats(item, *ids)).remaining
                        if left > 0:
                            await self._tokens.hit(item, *ids, cost=left)
                if cost:
                    for budget, period, ends in ((limits.usd_per_day, day, day_end),
                                                 (limits.usd_per_month, month, month_end)):
                        if budget is not None:
                            await self.storage.incr(self._budget_key(scope, period), int(ends - now) + 3600,
                                                    amount=max(1, round(cost * MICRO)))
        except Exception as exc:  # noqa: BLE001 - accounting lost, the answer is not
            self.outage.failed(type(exc).__name__)
            return
        self.outage.succeeded()


def limits_from_settings(settings: Any) -> CallLimits | None:
    """The limits the settings set (None when none is)."""
    limits = CallLimits(settings.role_limits, settings.agent_limits, settings.api_token_limits,
                        redis_url=settings.redis_url, namespace=settings.redis_namespace,
                        fail_closed=settings.limits_fail_closed)
    return limits if limits.active else None
