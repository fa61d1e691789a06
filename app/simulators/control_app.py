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

    base_urls: Mapping[str, str]

    @property
    def providers(self) -> list[str]: ...
    def faults(self) -> Mapping[str, Any]: ...
    def set_fault(self, provider: str, fault: Fault) -> Fault: ...
    def clear_faults(self, provider: str | None = None) -> None: ...
    def stats(self) -> Mapping[str, Any]: ...
    def reset_stats(self) -> None: ...


def build_control_app(cluster: Controlled) -> Starlette:
    def unknown(provider: str) -> JSONResponse:
        return JSONResponse({"error": f"unknown provider {provider!r}", "providers": cluster.providers}, 404)

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def providers(_: Request) -> JSONResponse:
        return JSONResponse(cluster.base_urls)

    async def get_faults(_: Request) -> JSONResponse:
        return JSONResponse(cluster.faults())

    async def put_fault(request: Request) -> JSONResponse:
        provider = request.path_params["provider"]
        if provider not in cluster.providers:
            return unknown(provider)
        try:
            fault = Fault.model_validate_json(await request.body() or b"{}")
        except ValidationError as exc:
            return JSONResponse(
                {"error": "invalid fault", "detail": exc.errors(include_url=False, include_context=False)},
                422,
            )
        cluster.set_fault(provider, fault)
        return JSONResponse(cluster.faults()[provider])

    async def delete_fault(request: Request) -> JSONResponse:
        provider = request.path_params["provider"]
        if provider not in cluster.providers:
            return unknown(provider)
        cluster.clear_faults(provider)
        return JSONResponse({"cleared": [provider]})

    async def delete_faults(_: Request) -> JSONResponse:
        cluster.clear_faults()
        return JSONResponse({"cleared": cluster.providers})

    async def get_stats(_: Request) -> JSONResponse:
        return JSONResponse(cluster.stats())

    async def delete_stats(_: Request) -> JSONResponse:
        cluster.reset_stats()
        return JSONResponse({"reset": cluster.providers})

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/providers", providers, methods=["GET"]),
            Route("/faults", get_faults, methods=["GET"]),
            Route("/faults", delete_faults, methods=["DELETE"]),
            Route("/faults/{provider}", put_fault, methods=["PUT"]),
            Route("/faults/{provider}", delete_fault, methods=["DELETE"]),
            Route("/stats", get_stats, methods=["GET"]),
            Route("/stats", delete_stats, methods=["DELETE"]),
        ]
    )
