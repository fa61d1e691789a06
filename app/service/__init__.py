"""The HTTP service: an OpenAI-compatible API, agent endpoints, health, metrics and a dashboard.

    from app.service import create_app
    app = create_app()            # run with `sophia serve` (uvicorn), default 127.0.0.1:8000

Imported lazily so that the CLI's light commands do not load FastAPI.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ServiceConfig", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from app.service.app import create_app

        return create_app
    if name == "ServiceConfig":
        from app.service.config import ServiceConfig

        return ServiceConfig
    raise AttributeError(name)
