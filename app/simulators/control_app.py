"""HTTP control plane of a SimulatorCluster (faults, stats, discovery)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .faults import Fault


class Controlled(Protocol):
    """What the control API drives (a SimulatorCluster)."""

    @property
    def base_urls(self) -> Mapping[str, str]:
        """Each provider's base URL."""
        ...

    @property
    def providers(self) -> list[str]:
        """The provider names."""
        ...

    def faults(self) -> Mapping[str, Any]:
        """Each provider's active fault, as JSON."""
        ...

    def set_fault(self, provider: str, fault: Fault) -> Fault:
        """Install ``fault`` on ``provider``."""
        ...

    def clear_faults(self, provider: str | None = None) -> None:
        """Remove one provider's fault, or every fault."""
        ...

    def stats(self) -> Mapping[str, Any]:
        """Each provider's request stats, as JSON."""
        ...

    def reset_stats(self) -> None:
        """Zero every provider's stats."""
        ...

    def revoke_keys(self, provider: str, fingerprints: list[str]) -> list[str]:
        """Refuse keys with these fingerprints on ``provider`` (replacing the previous list)."""
        ...



class _ControlRoutes:
    """The control API's handlers, over one cluster."""

    def __init__(self, cluster: Controlled) -> None:
        self.cluster = cluster

    def _unknown(self, provider: str) -> JSONResponse | None:
        if provider in self.cluster.providers:
            return None
        return JSONResponse({"error": f"unknown provider {provider!r}", "providers": self.cluster.providers}, 404)

    async def health(self, _: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def providers(self, _: Request) -> JSONResponse:
        return JSONResponse(dict(self.cluster.base_urls))

    async def get_faults(self, _: Request) -> JSONResponse:
        return JSONResponse(dict(self.cluster.faults()))

    async def put_fault(self, request: Request) -> JSONResponse:
        provider = request.path_params["provider"]
        if (unknown := self._unknown(provider)) is not None:
            return unknown
        try:
            fault = Fault.model_validate_json(await request.body() or b"{}")
        except ValidationError as exc:
            return JSONResponse(
                {"error": "invalid fault", "detail": exc.errors(include_url=False, include_context=False)},
                422,
            )
        self.cluster.set_fault(provider, fault)
        return JSONResponse(self.cluster.faults()[provider])

    async def delete_fault(self, request: Request) -> JSONResponse:
        provider = request.path_params["provider"]
        if (unknown := self._unknown(provider)) is not None:
            return unknown
        self.cluster.clear_faults(provider)
        return JSONResponse({"cleared": [provider]})

    async def delete_faults(self, _: Request) -> JSONResponse:
        self.cluster.clear_faults()
        return JSONResponse({"cleared": self.cluster.providers})

    async def get_stats(self, _: Request) -> JSONResponse:
        return JSONResponse(dict(self.cluster.stats()))

    async def delete_stats(self, _: Request) -> JSONResponse:
        self.cluster.reset_stats()
        return JSONResponse({"reset": self.cluster.providers})


    async def put_revoked(self, request: Request) -> JSONResponse:
        provider = request.path_params["provider"]
        if (unknown := self._unknown(provider)) is not None:
            return unknown
        body = await request.json()
        fingerprints = body.get("fingerprints") if isinstance(body, dict) else None
        if not isinstance(fingerprints, list) or not all(isinstance(f, str) for f in fingerprints):
            return JSONResponse({"error": 'expected {"fingerprints": ["8 hex digits", ...]}'}, 422)
        return JSONResponse({"revoked": self.cluster.revoke_keys(provider, fingerprints)})


def build_control_app(cluster: Controlled) -> Starlette:
    """The control API (faults and stats of every simulated provider) as an ASGI app."""
    r = _ControlRoutes(cluster)
    return Starlette(
        routes=[
            Route("/health", r.health, methods=["GET"]),
            Route("/providers", r.providers, methods=["GET"]),
            Route("/faults", r.get_faults, methods=["GET"]),
            Route("/faults", r.delete_faults, methods=["DELETE"]),
            Route("/faults/{provider}", r.put_fault, methods=["PUT"]),
            Route("/faults/{provider}", r.delete_fault, methods=["DELETE"]),
            Route("/stats", r.get_stats, methods=["GET"]),
            Route("/stats", r.delete_stats, methods=["DELETE"]),
            Route("/revoked-keys/{provider}", r.put_revoked, methods=["PUT"]),
        ]
    )
