"""All simulated providers (one port each) plus an optional control server, in-process."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Self, TypeVar

from .control_app import build_control_app
from .faults import Fault, FaultSlot
from .provider_app import ProviderApp
from .providers import PROVIDER_NAMES, PROVIDERS
from .server import HttpListener
from .stats import ProviderStats

T = TypeVar("T")


class SimulatorCluster:
    """Start with ``await cluster.start()`` (or ``async with``); ports 0 pick free ports.

    With ``port_base`` > 0, providers get consecutive ports in ``PROVIDER_NAMES`` order.
    The control server is only started when ``control_port`` is not None. With ``stable_ids`` the
    same request always gets the same ids and timestamps (see :mod:`app.simulators.entropy`).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port_base: int = 0,
        control_port: int | None = None,
        providers: Iterable[str] = PROVIDER_NAMES,
        stable_ids: bool = False,
    ) -> None:
        self.host = host
        self._stable_ids = stable_ids
        self._port_base = port_base
        self._control_port = control_port
        names = list(providers)
        unknown = set(names) - set(PROVIDERS)
        if unknown:
            raise ValueError(f"unknown providers: {sorted(unknown)}")
        self._slots = {name: FaultSlot() for name in names}
        self._stats = {name: ProviderStats() for name in names}
        self._listeners: dict[str, HttpListener] = {}
        self._control: HttpListener | None = None
        self.base_urls: dict[str, str] = {}
        self.control_url: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def providers(self) -> list[str]:
        """The names of the simulated providers, in port order."""
        return list(self._slots)

    def _url_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    async def start(self) -> None:
        """Start every provider's listener and, if asked, the control server."""
        self._loop = asyncio.get_running_loop()
        try:
            for index, name in enumerate(self._slots):
                app = ProviderApp(PROVIDERS[name], self._slots[name], self._stats[name], self._stable_ids)
                port = self._port_base + index if self._port_base else 0
                listener = HttpListener(app, self.host, port)
                app.transport_for = listener.transport_for
                await listener.start()
                self._listeners[name] = listener
                self.base_urls[name] = f"http://{self._url_host()}:{listener.port}{PROVIDERS[name].prefix}"
            if self._control_port is not None:
                self._control = HttpListener(build_control_app(self), self.host, self._control_port)
                await self._control.start()
                self.control_url = f"http://{self._url_host()}:{self._control.port}"
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop every listener; connections still open are closed."""
        listeners = list(self._listeners.values())
        if self._control is not None:
            listeners.append(self._control)
        await asyncio.gather(*(listener.stop() for listener in listeners), return_exceptions=True)
        self._listeners.clear()
        self._control = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------ faults

    def _on_loop(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the cluster's loop, so fault switching also works from other threads."""
        loop = self._loop
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if loop is None or here is loop or not loop.is_running():
            return fn()
        done: concurrent.futures.Future = concurrent.futures.Future()

        def run() -> None:
            try:
                done.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
                done.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return done.result(timeout=10)

    def _slot(self, provider: str) -> FaultSlot:
        try:
            return self._slots[provider]
        except KeyError:
            raise KeyError(f"unknown provider {provider!r}") from None

    def set_fault(
        self, provider: str, fault: Fault | Mapping[str, Any] | None = None, **fields: Any
    ) -> Fault:
        """Install ``fault`` (or ``Fault(**fields)``) on ``provider``, replacing any previous one."""
        slot = self._slot(provider)
        if fault is None:
            fault = Fault(**fields)
        elif not isinstance(fault, Fault):
            fault = Fault.model_validate({**fault, **fields})
        return self._on_loop(lambda: self._install(provider, slot, fault))

    def _install(self, provider: str, slot: FaultSlot, fault: Fault) -> Fault:
        slot.set(fault)
        listener = self._listeners.get(provider)
        if listener is not None:
            if fault.mode == "refuse":
                listener.stop_listening()
            else:
                listener.resume_listening()
        return fault

    def clear_faults(self, provider: str | None = None) -> None:
        """Remove the fault of ``provider`` (every provider's for None); refused ports reopen."""
        names = [provider] if provider is not None else list(self._slots)
        slots = [self._slot(name) for name in names]
        self._on_loop(lambda: self._clear(names, slots))

    def _clear(self, names: list[str], slots: list[FaultSlot]) -> None:
        for name, slot in zip(names, slots, strict=True):
            slot.clear()
            listener = self._listeners.get(name)
            if listener is not None:
                listener.resume_listening()

    def faults(self) -> dict[str, dict | None]:
        """Each provider's active fault with its remaining uses; None for none."""
        return {name: slot.snapshot() for name, slot in self._slots.items()}

    # ------------------------------------------------------------ stats

    def stats(self, provider: str | None = None) -> dict:
        """Each provider's stats, or one provider's; raises KeyError for an unknown one."""
        if provider is not None:
            return self._stats[provider].snapshot(self._slot(provider).applied)
        return {name: st.snapshot(self._slots[name].applied) for name, st in self._stats.items()}

    def revoke_keys(self, provider: str, fingerprints: list[str]) -> list[str]:
        """Make ``provider`` refuse keys with these fingerprints (401), as a provider does with a revoked key."""
        revoked = self._stats[provider].revoked
        revoked.clear()
        revoked.update(fingerprints)
        return sorted(revoked)

    def reset_stats(self, provider: str | None = None) -> None:
        """Zero the stats (and applied-fault counts) of ``provider``, or of every provider."""
        for name in [provider] if provider is not None else list(self._stats):
            self._slot(name)
            self._stats[name].reset()
            self._slots[name].applied = 0
