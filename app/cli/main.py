"""`sophia`: set up, check, run (gateway, sandbox, service) and inspect the routing layer."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from app.cli import integration_check, operations, setup_keys
from app.cli.docs import app as docs_app

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Sophia Intel AI routing layer.")
console = Console()
err_console = Console(stderr=True)


def _fail_on_config_error(run: object) -> int:
    """Run ``run()``; a ConfigurationError prints its message (naming the variables) and exits 2."""
    from app.core.errors import ConfigurationError

    try:
        return run()  # type: ignore[operator]
    except ConfigurationError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}")
        return 2


# The spec's two scripts run these same commands (scripts/setup_portkey_keys.py, test_portkey_integration.py).
app.command()(setup_keys.setup)
app.command()(integration_check.check)
app.add_typer(operations.alerts_app, name="alerts")
app.add_typer(operations.keys_app, name="keys")


@app.command()
def gateway(port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8787,
            host: Annotated[str, typer.Option(help="Interface to bind; loopback unless you mean it.")] = "127.0.0.1",
            ) -> None:
    """Run the pinned Portkey gateway in the foreground, headless, until SIGTERM or Ctrl-C."""
    from app.core.errors import ConfigurationError
    from app.core.settings import load_settings
    from app.gateway import GATEWAY_VERSION, gateway_command

    try:
        cmd, env = gateway_command(port, host, load_settings().sophia_gateway_dir)
    except ConfigurationError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    err_console.print(f"Portkey gateway {GATEWAY_VERSION} on {escape(f'http://{host}:{port}/v1')} (headless)")
    sys.stdout.flush()
    os.execvpe(cmd[0], cmd, env)  # signals now go straight to the gateway, which stops cleanly


@app.command()
def sandbox(demo: Annotated[bool, typer.Option(help="Run the spec example and a forced fallback, then exit.")] = False,
            port: Annotated[int, typer.Option(help="Gateway port (0: a free one).")] = 0,
            log_dir: Annotated[Path | None, typer.Option(help="Where the gateway writes its log.")] = None) -> None:
    """Start the gateway and provider simulators on loopback and print the environment to use."""
    from app.core.errors import ConfigurationError
    from app.core.settings import load_settings
    from app.sandbox import Sandbox, providers_with_keys

    try:
        settings = load_settings()
    except ConfigurationError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    box = Sandbox(gateway_port=port or None, log_dir=log_dir, real_keys=providers_with_keys(settings),
                  gateway_dir=settings.sophia_gateway_dir)
    with console.status("starting gateway and simulators"):
        box.start()
    try:
        console.print(f"[bold yellow]SANDBOX[/]: simulated providers: {escape(', '.join(box.simulated) or 'none')}")
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


@app.command()
def serve(host: Annotated[str | None, typer.Option(help="Interface (default SOPHIA_HOST, 127.0.0.1).")] = None,
          port: Annotated[int | None, typer.Option(help="Port (default SOPHIA_PORT, 8000).")] = None,
          embedded: Annotated[bool, typer.Option(
              help="Start a local gateway, with simulators for every provider that has no key (SANDBOX).")] = False,
          log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
          workers: Annotated[int, typer.Option(min=1, max=64, help=(
              "Processes on one socket; state is shared through REDIS_URL and DATABASE_URL (see the README's "
              "Running many instances)."))] = 1) -> None:
    """Run the HTTP service: OpenAI-compatible API, agents, health, metrics and the dashboard."""
    from app.service.server import serve as run_service

    def run() -> int:
        run_service(host, port, embedded, console, log_level, workers)
        return 0

    raise typer.Exit(_fail_on_config_error(run))


@app.command()
def health(as_json: Annotated[bool, typer.Option("--json", help="Print the raw report.")] = False) -> None:
    """Probe every configured provider and store; exit 1 when the system is down."""
    from app.cli.ops import health as run_health

    raise typer.Exit(_fail_on_config_error(lambda: asyncio.run(run_health(console, as_json))))


@app.command()
def ask(prompt: Annotated[str, typer.Argument(help="The prompt.")],
        model: Annotated[str, typer.Option("--model", "-m",
                                           help="<provider>/<model>, <provider>, <domain>/<role> or route/<name>.")]
        = "artemis/code_reviewer",
        stream: Annotated[bool, typer.Option(help="Print the answer as it arrives.")] = False,
        max_tokens: Annotated[int | None, typer.Option(help="Limit the answer's length.")] = None,
        meta: Annotated[list[str] | None, typer.Option(
            "--meta", help="Request metadata KEY=VALUE for a route's rules (repeatable), e.g. --meta tier=premium."
        )] = None) -> None:
    """Send one prompt to a role's or route's strategy or a provider, and show who answered."""
    from app.cli.ops import ask as run_ask
    from app.core.errors import SophiaError

    pairs = dict(item.partition("=")[::2] for item in meta or [])
    try:
        code = _fail_on_config_error(lambda: asyncio.run(run_ask(console, prompt, model, stream, max_tokens,
                                                                 pairs)))
    except SophiaError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}")
        code = 1
    raise typer.Exit(code)


@app.command()
def stats(hours: Annotated[float, typer.Option(help="How far back to look.")] = 24.0,
          as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows.")] = False) -> None:
    """Provider performance from the request analytics (SQLite, or DATABASE_URL)."""
    from app.cli.ops import stats as run_stats

    raise typer.Exit(_fail_on_config_error(lambda: asyncio.run(run_stats(console, hours, as_json))))


app.add_typer(docs_app, name="docs")


routes_app = typer.Typer(no_args_is_help=True, add_completion=False,
                         help="The routing file: validate it, show what a route or role compiles to.")
app.add_typer(routes_app, name="routes")


@routes_app.command("check")
def routes_check(file: Annotated[Path, typer.Argument(help="The routing file (YAML) to validate.")]) -> None:
    """Validate a routing file without starting anything: every problem with its line and field."""
    from app.cli.routing_cmds import check

    raise typer.Exit(check(console, err_console, file))


@routes_app.command("show")
def routes_show(name: Annotated[str, typer.Argument(help="A route name, or a role domain/role.")],
                file: Annotated[Path | None, typer.Option(help="A routing file (default SOPHIA_ROUTING_FILE).")]
                = None) -> None:
    """Print the Portkey config(s) a route or role compiles to, keys redacted."""
    from app.cli.routing_cmds import show
    from app.core.errors import SophiaError

    try:
        code = _fail_on_config_error(lambda: show(console, name, file))
    except SophiaError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        code = 1
    raise typer.Exit(code)


workflow_app = typer.Typer(no_args_is_help=True, add_completion=False,
                           help="Multi-agent workflows: run one with live progress, list them.")
app.add_typer(workflow_app, name="workflow")


@workflow_app.command("run")
def workflow_run(
    name: Annotated[str, typer.Argument(help="The workflow: security_review, market_brief, or one of the routing file.")],
    input_file: Annotated[Path, typer.Option("--input", "-i", help="JSON or YAML object, or a text file (e.g. the "
                                                                   "code to review) for the workflow's main field.")],
    fields: Annotated[list[str] | None, typer.Option("--set", help="Add an input field KEY=VALUE (repeatable), e.g. "
                                                                  "--set language=python.")] = None,
    budget: Annotated[float | None, typer.Option(help="Stop starting steps once the run has cost this (USD).")] = None,
    deadline: Annotated[float | None, typer.Option(help="Stop the run after this many seconds.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON, no live display.")] = False,
) -> None:
    """Run a workflow with a live display of its steps; exit 0 completed, 3 cut by budget or deadline, 1 failed."""
    from app.cli.docs import _pairs
    from app.cli.workflow_cmds import run as run_workflow
    from app.core.errors import SophiaError

    pairs = _pairs(fields, "--set")
    try:
        code = _fail_on_config_error(lambda: asyncio.run(run_workflow(console, err_console, name, input_file, pairs,
                                                                      budget, deadline, as_json)))
    except SophiaError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}")
        code = 1
    except KeyboardInterrupt:
        err_console.print("[yellow]cancelled[/]: the steps in flight were stopped")
        code = 130
    raise typer.Exit(code)


@workflow_app.command("list")
def workflow_list(as_json: Annotated[bool, typer.Option("--json", help="Each workflow's shape and input schema.")]
                  = False) -> None:
    """The workflows you can run: built-in, from the routing file (workflows:), registered in Python."""
    from app.cli.workflow_cmds import list_workflows

    raise typer.Exit(_fail_on_config_error(lambda: list_workflows(console, as_json)))


@app.command()
def experiments(name: Annotated[str, typer.Argument(help="A route name (or a role domain/role) with a loadbalance.")],
                hours: Annotated[float, typer.Option(help="How far back to look.")] = 24.0,
                as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False) -> None:
    """Compare an A/B experiment's variants: success, fallbacks, latency, tokens, cost, feedback, significance."""
    from app.cli.routing_cmds import experiments as run_experiments

    raise typer.Exit(_fail_on_config_error(lambda: asyncio.run(run_experiments(console, name, hours, as_json))))


def main() -> None:
    """The ``sophia`` console script: run the command named on the command line."""
    app()


if __name__ == "__main__":
    main()
