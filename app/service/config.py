"""What the service needs to know beyond the routing settings: bind address, auth, limits."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from app.core.errors import ConfigurationError


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses: a bind that only this machine can reach."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServiceConfig:
    """The service's bind address, bearer tokens, limits and background jobs."""

    host: str = "127.0.0.1"
    port: int = 8000
    api_keys: frozenset[str] = field(default_factory=frozenset, repr=False)
    rate_limit: str = "120/minute"
    max_body_bytes: int = 1_000_000
    require_auth: bool = False
    """Every request needs a bearer token: always when keys are set or the bind is not loopback."""
    settle_collector: bool = False
    """The process is the service's own (``sophia serve``): Python's collector is settled after start-up
    (``app.service.collector``). Off for an app built inside another process (tests, embedding)."""
    sandboxed: tuple[str, ...] = ()
    """Providers answered by simulators (shown as a SANDBOX banner on the dashboard)."""
    control_url: str | None = None
    """The simulators' control API (faults) when sandboxed, shown on the dashboard."""
    health_interval: float = 300.0
    """Seconds between background health probes (each costs one tiny completion per provider); 0: off."""
    rate_limit_namespace: str = "sophia"
    analytics_table_prefix: str = "sophia_"

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> ServiceConfig:
        """The config of the ``SOPHIA_*`` settings plus ``overrides``, refused if unsafe (see ``checked``)."""
        raw = settings.sophia_api_keys.get_secret_value() if settings.sophia_api_keys else ""
        values: dict[str, Any] = {
            "host": settings.sophia_host, "port": settings.sophia_port,
            "api_keys": frozenset(k.strip() for k in raw.split(",") if k.strip()),
            "rate_limit": settings.sophia_rate_limit, "max_body_bytes": settings.sophia_max_body_bytes,
            "health_interval": settings.sophia_health_interval,
        }
        values.update(overrides)
        config = cls(**values)
        return config.checked()

    def checked(self) -> ServiceConfig:
        """Refuse an unsafe or unreadable configuration before anything starts."""
        from limits import parse

        try:
            parse(self.rate_limit)
        except ValueError:
            raise ConfigurationError(
                f"SOPHIA_RATE_LIMIT {self.rate_limit!r} is not a rate like '120/minute' or '10/second'",
                env_vars=["SOPHIA_RATE_LIMIT"],
            ) from None
        if not is_loopback(self.host) and not self.api_keys:
            raise ConfigurationError(
                f"binding {self.host} exposes the service beyond this machine: set SOPHIA_API_KEYS "
                "(comma-separated bearer tokens) or bind 127.0.0.1",
                env_vars=["SOPHIA_API_KEYS"],
            )
        if self.require_auth and not self.api_keys:
            raise ConfigurationError("authentication is required but SOPHIA_API_KEYS is empty",
                                     env_vars=["SOPHIA_API_KEYS"])
        return self

    @property
    def auth_enabled(self) -> bool:
        """True when requests need a bearer token: keys set, auth required, or a bind beyond loopback."""
        return self.require_auth or bool(self.api_keys) or not is_loopback(self.host)
