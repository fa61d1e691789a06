"""``sophia serve``: the service under uvicorn, optionally on embedded defaults (``make run``).

Embedded: a local gateway, simulators for every provider without a key (a loud SANDBOX notice),
the embedded cache and vector store, SQLite analytics. Nothing to install or configure.

While it runs, its runtime file (``<SOPHIA_DATA_DIR>/service.json``, ``app.core.local_service``)
tells every other process where its gateway and simulators are and that it holds the Qdrant folder;
the file is removed on the way out (Ctrl-C, SIGTERM), and a file left by a crash is recognised as stale.
"""

from __future__ import annotations

import copy
import errno
import json
import logging
import os
import re
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from rich.markup import escape

from app.core.errors import ConfigurationError
from app.service.config import ServiceConfig
from app.service.workers import check_many_processes

GRACEFUL_SHUTDOWN = 20
"""Seconds requests in flight get to finish on SIGTERM (Kubernetes' default grace period is 30 s)."""
SANDBOXED_ENV = "SOPHIA_SERVE_SANDBOXED"
CONTROL_URL_ENV = "SOPHIA_SERVE_CONTROL_URL"  # the simulators' control URL, for the workers' dashboards
"""How the supervisor tells ``--workers`` processes which providers are simulated (for the banner)."""

_SECRET_QUERY = re.compile(r"((?:^|[?&])(?:token|api_key|key|access_token)=)[^&\s]*", re.IGNORECASE)


class RedactQuery(logging.Filter):
    """Masks credentials in the query string of access-log lines (``?token=...`` must never be logged)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the request path of uvicorn's access record; every record is kept."""
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path: str = args[2]
            record.args = (*args[:2], _SECRET_QUERY.sub(r"\1[redacted]", path), *args[3:])
        return True


def access_log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with ``RedactQuery`` on the access log."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_query"] = {"()": RedactQuery}
    config["handlers"]["access"]["filters"] = ["redact_query"]
    return config


def worker_app() -> Any:
    """The app of one ``--workers`` process (uvicorn's factory): settings from the environment the
    supervisor prepared (``.env``, plus the sandbox's variables under ``--embedded``)."""
    from app.core.settings import load_settings
    from app.service.app import create_app

    settings = load_settings()
    sandboxed = tuple(json.loads(os.environ.get(SANDBOXED_ENV, "[]")))
    return create_app(settings, ServiceConfig.from_settings(settings, sandboxed=sandboxed, settle_collector=True,
                                                            control_url=os.environ.get(CONTROL_URL_ENV) or None))


def check_port_free(host: str, port: int, data_dir: str) -> None:
    """Raise ``ConfigurationError`` naming ``SOPHIA_PORT`` when ``host:port`` cannot be bound."""
    from app.core.local_service import running_elsewhere

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no conflict
        try:
            probe.bind((host, port))
            return
        except OSError as exc:
            if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
                raise
    other = running_elsewhere(data_dir)
    who = f" by {other.describe()}" if other is not None and f":{port}/" in other.url else ""
    raise ConfigurationError(
        f"port {port} on {host} is already in use{who}; stop what runs there, or pick another port: "
        f"SOPHIA_PORT={port + 1} make run (or sophia serve --port {port + 1})",
        env_vars=["SOPHIA_PORT"],
    )


def serve(host: str | None, port: int | None, embedded: bool, console: Any, log_level: str = "info",
          workers: int = 1) -> None:
    """Run the service until it is stopped; ``embedded`` starts a local gateway and simulators first.

    ``host`` and ``port`` (None: the settings') override ``SOPHIA_HOST``/``SOPHIA_PORT``; the gateway
    and simulators are stopped and the runtime file removed on the way out. ``workers`` > 1 runs that
    many processes on one socket (uvicorn's supervisor), each with its own lifespan; stores one process
    must own are refused first.
    """
    import uvicorn

    from app.core.local_service import (
        LocalService,
        remove_runtime_file,
        running_elsewhere,
        write_runtime_file,
    )
    from app.core.settings import load_settings
    from app.service.app import create_app
    from app.vectors.registry import qdrant_path

    box = None
    written: Path | None = None
    sandboxed: tuple[str, ...] = ()
    try:
        settings = load_settings()
        retries: dict[str, Any] = {}
        overrides: dict[str, Any] = {"settle_collector": True}  # this process is the service's own
        if host:
            overrides["host"] = host
        if port:
            overrides["port"] = port
        config = ServiceConfig.from_settings(settings, **overrides)
        check_many_processes(settings, workers)
        check_port_free(config.host, config.port, settings.sophia_data_dir)  # before anything starts
        if embedded:
            from app.sandbox import Sandbox, as_settings, providers_with_keys

            # Keys in the environment or .env (both are in the settings) are called for real.
            box = Sandbox(real_keys=providers_with_keys(settings), gateway_dir=settings.sophia_gateway_dir)
            with console.status("starting the local gateway and provider simulators"):
                box.start()
            # Simulated faults should not back off for 7 s, unless MAX_RETRIES says otherwise.
            retries = {} if "max_retries" in settings.model_fields_set else {"max_retries": 1}
            settings = load_settings(**as_settings(box.env), **retries)
            sandboxed = tuple(box.simulated)
            if sandboxed:
                console.print(f"[bold black on yellow] SANDBOX [/] simulators answer for: "
                              f"{escape(', '.join(sandboxed))} (set their keys in .env to call them for real)")
        config = ServiceConfig.from_settings(settings, sandboxed=sandboxed,
                                             control_url=box.simulators.control_url if box else None,
                                             **overrides).checked()  # before the banner, and before any worker
        shown = f"[{config.host}]" if ":" in config.host else config.host
        url = f"http://{shown}:{config.port}/"
        auth = " (append #token=<one of SOPHIA_API_KEYS> to open the dashboard)" if config.auth_enabled else ""
        console.print(f"Sophia service on [bold]{escape(url)}[/]: dashboard {escape(url + auth)}, "
                      f"API {escape(url)}v1, health {escape(url)}health, metrics {escape(url)}metrics")
        other = running_elsewhere(settings.sophia_data_dir)
        if other is None:
            # One process holds a local Qdrant folder and serves it to the others; a pool of workers is
            # no such process (each would forward to the pool, itself included, and wait on itself).
            held = None if settings.qdrant_url or workers > 1 else qdrant_path(settings)
            written = write_runtime_file(settings.sophia_data_dir, LocalService(
                pid=os.getpid(), url=url, qdrant_path=held, sandbox=box.described if box and sandboxed else None))
            console.print("In another shell, from this folder: [bold]source .venv/bin/activate[/], then "
                          "[bold]sophia ask \"Hello\"[/], [bold]sophia health[/] or the README's Python examples: "
                          "they find this service"
                          + (" and its simulators." if sandboxed else "."))
        else:
            console.print(f"[yellow]note:[/] {escape(other.describe())} already runs on "
                          f"{escape(settings.sophia_data_dir)}; other processes keep using that one")
        # uvicorn re-raises the SIGTERM it caught once it has shut down; with Python's default handler
        # that kills the process before `finally` stops the gateway and simulators (orphaning them).
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        if workers > 1:
            _run_workers(settings, config, box, retries, workers, log_level)
            return
        uvicorn.run(create_app(settings, config), host=config.host, port=config.port, log_level=log_level, log_config=access_log_config(),
                    timeout_graceful_shutdown=GRACEFUL_SHUTDOWN)
    finally:
        if written is not None:
            remove_runtime_file(written)
        if box is not None:
            box.stop()


def _run_workers(settings: Any, config: ServiceConfig, box: Any, retries: dict[str, Any], workers: int,
                 log_level: str) -> None:
    """uvicorn with ``workers`` processes. Each worker reads its settings from the environment, so the
    sandbox's variables (and its retry default) are exported to it first; the bind is the supervisor's."""
    import uvicorn

    if box is not None:
        os.environ.update(box.env)
        os.environ.update({name.upper(): str(value) for name, value in retries.items()})
    os.environ[SANDBOXED_ENV] = json.dumps(list(config.sandboxed))
    if config.control_url:
        os.environ[CONTROL_URL_ENV] = config.control_url
    os.environ.update({"SOPHIA_HOST": config.host, "SOPHIA_PORT": str(config.port)})
    uvicorn.run("app.service.server:worker_app", factory=True, workers=workers, host=config.host,
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
                port=config.port, log_level=log_level, log_config=access_log_config())
