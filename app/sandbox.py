"""The offline sandbox: the real gateway on loopback, with simulators standing in for providers.

Used by ``sophia sandbox``, ``make run`` and the tests. Every provider without a key of its own
(``real_keys``) is pointed at its simulator (through ``<P>_BASE_URL``) with a sandbox key.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any, Self

from app.core.keys import is_placeholder
from app.core.local_service import SANDBOX_KEY, LocalSandbox, as_settings, simulated_env
from app.core.providers import PROVIDERS
from app.gateway import GatewayProcess


def providers_with_keys(settings: Any) -> list[str]:
    """Providers whose own API key is set (and is not a template placeholder): called for real."""
    out = []
    for name, provider in PROVIDERS.items():
        key = settings.provider(provider).api_key
        if key is not None and not is_placeholder(key):
            out.append(name)
    return out


class Sandbox:
    """Gateway and simulators as child processes; a context manager."""

    def __init__(self, gateway_port: int | None = None, log_dir: Path | None = None,
                 real_keys: Collection[str] = (), gateway_dir: str | Path | None = None) -> None:
        self.log_dir = log_dir
        self._gateway = GatewayProcess(port=gateway_port, log_path=log_dir / "gateway.log" if log_dir else None,
                                       directory=gateway_dir)
        self._real_keys = tuple(real_keys)
        self._sims: Any = None

    def start(self) -> Self:
        """Start the simulators, then the gateway (the simulators are stopped again if it fails)."""
        from app.simulators.process import start_simulators_process

        self._sims_cm = start_simulators_process()
        self._sims = self._sims_cm.__enter__()
        try:
            self._gateway.start()
        except Exception:
            self._sims_cm.__exit__(None, None, None)
            raise
        return self

    @property
    def gateway_url(self) -> str:
        """The local gateway's base URL (the sandbox's ``PORTKEY_BASE_URL``)."""
        return self._gateway.url

    @property
    def simulators(self) -> Any:
        """The simulators' process handle (its ``control`` switches faults); None until started."""
        return self._sims

    @property
    def env(self) -> dict[str, str]:
        """The variables that point the simulated providers at their simulators (see ``simulated_env``)."""
        return simulated_env(self._gateway.url, self._sims.base_urls, self._real_keys)

    @property
    def simulated(self) -> list[str]:
        """The providers that simulators answer for (those without a real key)."""
        return [n for n, p in PROVIDERS.items() if p.base_url_env in self.env]

    @property
    def described(self) -> LocalSandbox:
        """The sandbox as the service's runtime file records it (for other processes to use)."""
        simulated = self.simulated
        return LocalSandbox(gateway_url=self.gateway_url, control_url=self._sims.control_url,
                            simulators={n: u for n, u in self._sims.base_urls.items() if n in simulated})

    def stop(self) -> None:
        """Stop the gateway and the simulators; safe to call twice."""
        self._gateway.stop()
        if self._sims is not None:
            self._sims_cm.__exit__(None, None, None)
            self._sims = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["SANDBOX_KEY", "Sandbox", "as_settings", "providers_with_keys", "simulated_env"]
