"""Client for the simulators' control plane (sync methods, plus ``a``-prefixed async twins)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx2

from .faults import Fault

_TIMEOUT = httpx2.Timeout(10.0)


def _fault_json(fault: Fault | Mapping[str, Any] | None, fields: dict[str, Any]) -> dict:
    if fault is None:
        fault = Fault(**fields)
    elif not isinstance(fault, Fault):
        fault = Fault.model_validate({**fault, **fields})
    return fault.model_dump(exclude_none=True)


class SimulatorControl:
    """``SimulatorControl("http://127.0.0.1:PORT")``.

    A fresh connection per call: control calls are rare, and a pooled async client would be
    tied to whichever event loop first used it (pytest may run several).
    """

    def __init__(self, control_url: str) -> None:
        self.control_url = control_url.rstrip("/")

    def _url(self, path: str) -> str:
        return self.control_url + path

    # trust_env=False: a proxy from the environment must never intercept 127.0.0.1 traffic.
    def _call(self, method: str, path: str, json: Any = None) -> Any:
        with httpx2.Client(timeout=_TIMEOUT, trust_env=False) as client:
            response = client.request(method, self._url(path), json=json)
        response.raise_for_status()
        return response.json()

    async def _acall(self, method: str, path: str, json: Any = None) -> Any:
        async with httpx2.AsyncClient(timeout=_TIMEOUT, trust_env=False) as client:
            response = await client.request(method, self._url(path), json=json)
        response.raise_for_status()
        return response.json()

    # ------------------------------------------------------------ sync

    def health(self) -> dict:
        """``{"status": "ok"}`` when the control server answers."""
        return self._call("GET", "/health")

    def providers(self) -> dict[str, str]:
        """Each simulated provider's base URL."""
        return self._call("GET", "/providers")

    def set_fault(self, provider: str, fault: Fault | Mapping[str, Any] | None = None, **fields: Any) -> dict:
        """Install ``fault`` (or ``Fault(**fields)``) on ``provider``; the fault as installed."""
        return self._call("PUT", f"/faults/{provider}", _fault_json(fault, fields))

    def clear_faults(self, provider: str | None = None) -> dict:
        """Remove the fault of ``provider``, or every fault."""
        return self._call("DELETE", f"/faults/{provider}" if provider else "/faults")

    def faults(self) -> dict:
        """Each provider's active fault (None for none)."""
        return self._call("GET", "/faults")

    def stats(self, provider: str | None = None) -> dict:
        """Every provider's request stats, or one provider's."""
        data = self._call("GET", "/stats")
        return data[provider] if provider else data

    def reset_stats(self) -> dict:
        """Zero every provider's stats."""
        return self._call("DELETE", "/stats")

    def revoke_keys(self, provider: str, fingerprints: list[str]) -> dict:
        """Make ``provider`` answer 401 to keys with these fingerprints (an empty list un-revokes all)."""
        return self._call("PUT", f"/revoked-keys/{provider}", {"fingerprints": fingerprints})

    # ------------------------------------------------------------ async

    async def ahealth(self) -> dict:
        """Async twin of ``health``."""
        return await self._acall("GET", "/health")

    async def aproviders(self) -> dict[str, str]:
        """Async twin of ``providers``."""
        return await self._acall("GET", "/providers")

    async def aset_fault(
        self, provider: str, fault: Fault | Mapping[str, Any] | None = None, **fields: Any
    ) -> dict:
        """Async twin of ``set_fault``."""
        return await self._acall("PUT", f"/faults/{provider}", _fault_json(fault, fields))

    async def aclear_faults(self, provider: str | None = None) -> dict:
        """Async twin of ``clear_faults``."""
        return await self._acall("DELETE", f"/faults/{provider}" if provider else "/faults")

    async def afaults(self) -> dict:
        """Async twin of ``faults``."""
        return await self._acall("GET", "/faults")

    async def astats(self, provider: str | None = None) -> dict:
        """Async twin of ``stats``."""
        data = await self._acall("GET", "/stats")
        return data[provider] if provider else data

    async def areset_stats(self) -> dict:
        """Async twin of ``reset_stats``."""
        return await self._acall("DELETE", "/stats")

    async def arevoke_keys(self, provider: str, fingerprints: list[str]) -> dict:
        """Async twin of ``revoke_keys``."""
        return await self._acall("PUT", f"/revoked-keys/{provider}", {"fingerprints": fingerprints})
