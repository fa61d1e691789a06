"""``sophia serve``: the service under uvicorn, optionally on embedded defaults (``make run``).

Embedded: a local gateway, simulators for every provider without a key (a loud SANDBOX notice),
the embedded cache and vector store, SQLite analytics. Nothing to install or configure.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from app.service.config import ServiceConfig


def _environ_with_dotenv() -> dict[str, str]:
    """The environment over ``.env``: keys kept only in .env must count as real keys too."""
    from dotenv import dotenv_values

    merged = {k: v for k, v in dotenv_values(".env").items() if v} if os.path.exists(".env") else {}
    merged.update(os.environ)
    return merged


def serve(host: str | None, port: int | None, embedded: bool, console: Any, log_level: str = "info") -> None:
    import uvicorn

    from app.core.settings import get_settings, load_settings
    from app.service.app import create_app

    box = None
    sandboxed: tuple[str, ...] = ()
    try:
        if embedded:
            from app.sandbox import Sandbox

            box = Sandbox(environ=_environ_with_dotenv())
            with console.status("starting the local gateway and provider simulators"):
                box.start()
            os.environ.update(box.env)
            os.environ.setdefault("MAX_RETRIES", "1")  # simulated faults should not back off for 7 s
            get_settings.cache_clear()
            sandboxed = tuple(box.simulated)
            if sandboxed:
                console.print(f"[bold black on yellow] SANDBOX [/] simulators answer for: {', '.join(sandboxed)} "
                              "(set their keys in .env to call them for real)")
        settings = load_settings()
        overrides: dict[str, Any] = {"sandboxed": sandboxed}
        if host:
            overrides["host"] = host
        if port:
            overrides["port"] = port
        config = ServiceConfig.from_settings(settings, **overrides)
        app = create_app(settings, config)
        shown = f"[{config.host}]" if ":" in config.host else config.host
        url = f"http://{shown}:{config.port}/"
        auth = " (append #token=<one of SOPHIA_API_KEYS> to open the dashboard)" if config.auth_enabled else ""
        console.print(f"Sophia service on [bold]{url}[/]: dashboard {url}{auth}, API {url}v1, "
                      f"health {url}health, metrics {url}metrics")
        # uvicorn re-raises the SIGTERM it caught once it has shut down; with Python's default handler
        # that kills the process before `finally` stops the gateway and simulators (orphaning them).
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        uvicorn.run(app, host=config.host, port=config.port, log_level=log_level)
    finally:
        if box is not None:
            box.stop()
