"""`sophia`: run the gateway, the sandbox and (later) the service; check and inspect the system."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Sophia Intel AI routing layer.")
console = Console()
err_console = Console(stderr=True)


@app.command()
def gateway(port: int = typer.Option(8787, help="Port on 127.0.0.1."),
            host: str = typer.Option("127.0.0.1", help="Interface to bind; loopback unless you mean it.")) -> None:
    """Run the pinned Portkey gateway in the foreground, headless, until SIGTERM or Ctrl-C."""
    from app.core.errors import ConfigurationError
    from app.gateway import GATEWAY_VERSION, gateway_command

    try:
        cmd, env = gateway_command(port, host)
    except ConfigurationError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    err_console.print(f"Portkey gateway {GATEWAY_VERSION} on http://{host}:{port}/v1 (headless)")
    sys.stdout.flush()
    os.execvpe(cmd[0], cmd, env)  # signals now go straight to the gateway, which stops cleanly


@app.command()
def sandbox(demo: bool = typer.Option(False, help="Run the spec example and a forced fallback, then exit."),
            port: int = typer.Option(0, help="Gateway port (0: a free one)."),
            log_dir: Path | None = typer.Option(None, help="Where the gateway writes its log.")) -> None:
    """Start the gateway and provider simulators on loopback and print the environment to use."""
    from app.sandbox import Sandbox

    box = Sandbox(gateway_port=port or None, log_dir=log_dir)
    with console.status("starting gateway and simulators"):
        box.start()
    try:
        console.print(f"[bold yellow]SANDBOX[/]: simulated providers: {', '.join(box.simulated) or 'none'}")
        if demo:
            from app.demo import run_demo

            run_demo(box, console)
            return
        console.print("# export these to use the sandbox from another shell:")
        for key, value in box.env.items():
            print(f"export {key}={value}")
        print(f"export SIMULATOR_CONTROL_URL={box.simulators.control_url}", flush=True)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
    finally:
        box.stop()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
