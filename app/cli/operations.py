"""``sophia alerts export``, ``sophia keys status`` and ``sophia keys rotate PROVIDER``."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

alerts_app = typer.Typer(no_args_is_help=True, help="Alert rules: export them for Prometheus.")
keys_app = typer.Typer(no_args_is_help=True, help="Provider keys and virtual keys: ages, rotation.")
console = Console()
err = Console(stderr=True)


def _date(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC") if ts else ""


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/] {message}")
    return typer.Exit(code)


def _settings(env_file: Path) -> Any:
    from app.core.errors import ConfigurationError
    from app.core.settings import load_settings

    try:
        return load_settings(_env_file=env_file)
    except ConfigurationError as exc:
        raise _fail(str(exc)) from None


@alerts_app.command("export")
def export(output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")]
           = None,
           rules: Annotated[Path | None, typer.Option(help="Rules file (default: SOPHIA_ALERTS_FILE).")] = None,
           env_file: Annotated[Path, typer.Option(help="Where the settings are read from.")] = Path(".env")) -> None:
    """Write the alert rules as a Prometheus alerting-rules file (check it with `promtool check rules`)."""
    from app.alerts.prometheus import render
    from app.alerts.rules import load_rules
    from app.core.errors import ConfigurationError

    try:
        text = render(load_rules(rules or _settings(env_file).sophia_alerts_file))
    except ConfigurationError as exc:
        raise _fail(str(exc)) from None
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text)
    err.print(f"wrote {output}: Prometheus alerting rules over the sophia_* metrics")


@keys_app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
           env_file: Annotated[Path, typer.Option(help="Where the keys are read from.")] = Path(".env")) -> None:
    """Each configured key's fingerprint (never the key), age and due date under the rotation policy."""
    from app.keys import KeyLedger

    settings = _settings(env_file)
    ledger = KeyLedger.from_settings(settings)
    statuses = ledger.observe(settings)
    if as_json:
        print(json.dumps([s.as_dict() for s in statuses], indent=2))
        return
    table = Table("variable", "fingerprint", "age (days)", "due", "state", "previous key",
                  title=f"Keys (rotate every {ledger.max_age_days:g} days, warn {ledger.warn_days:g} days before)")
    colour = {"ok": "green", "due": "yellow", "overdue": "red"}
    for s in statuses:
        previous = ""
        if s.previous_fingerprint:
            previous = s.previous_fingerprint
            if s.previous_valid_until:
                previous += f" (keep valid until {_date(s.previous_valid_until)})"
        table.add_row(s.variable, s.fingerprint, f"{s.age_days:.1f}", _date(s.due_at),
                      f"[{colour[s.state]}]{s.state}[/]", previous)
    if not statuses:
        console.print("no key configured (set them with `sophia setup`)")
        return
    console.print(table)


def _read_key(file: Path | None) -> str:
    if file is not None:
        try:
            return file.read_text().strip()
        except OSError as exc:
            raise _fail(f"cannot read {file}: {exc.strerror}") from None
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("new key (hidden): ").strip()
    return sys.stdin.read().strip()


@keys_app.command("rotate")
def rotate(provider: Annotated[str, typer.Argument(help="The provider whose key is replaced (openai, groq, ...).")],
           file: Annotated[Path | None, typer.Option("--file", help="Read the new key from this file "
                                                                     "(default: standard input).")] = None,
           env_file: Annotated[Path, typer.Option(help="The .env to update.")] = Path(".env"),
           verify: Annotated[bool, typer.Option(help="Check the new key with one tiny completion first.")] = True,
           ) -> None:
    """Replace a provider's key (hosted Portkey: its virtual key id) in .env, verified first.

    A running `sophia serve` picks the new key up within KEY_WATCH_INTERVAL seconds, without a restart;
    calls in flight finish on the old key, which must stay valid at the provider for KEY_GRACE_SECONDS.
    """
    raise typer.Exit(_rotate(provider, file, env_file, verify))


def _rotate(provider_name: str, file: Path | None, env_file: Path, verify: bool) -> int:
    from app.cli.setup_keys import SetupError, validate, verify_settings, write_env
    from app.core.providers import PROVIDERS
    from app.core.settings import load_settings
    from app.keys import KeyLedger, fingerprint

    provider = PROVIDERS.get(provider_name.lower())
    if provider is None:
        raise _fail(f"unknown provider {provider_name!r}; one of {', '.join(PROVIDERS)}")
    settings = _settings(env_file)
    variable = provider.vk_env if settings.hosted else provider.api_key_env
    new = _read_key(file)
    try:
        validate({variable: new})
    except SetupError as exc:
        raise _fail(str(exc)) from None
    if not new:
        raise _fail("no key given (pass it on standard input or with --file)")
    old = getattr(settings, variable.lower())
    if old is not None and old.get_secret_value() == new:
        raise _fail(f"{variable} already holds this key ({fingerprint(new)})", 1)
    candidate = settings.model_copy(update={variable.lower(): SecretStr(new)})
    if verify:
        result = asyncio.run(verify_settings(candidate, [provider.name]))[provider.name]
        if not result.ok:
            err.print(f"❌ {provider.name} with the new key: {result.reason}; .env left unchanged")
            return 1
        console.print(f"✅ {provider.name} answered with the new key ({result.reason})")
    write_env(env_file, {variable: new}, force=True)
    status = KeyLedger.from_settings(settings).rotated(variable, new, settings.key_grace_seconds,
                                                      old.get_secret_value() if old is not None else None)
    was = fingerprint(old.get_secret_value()) if old is not None else "none"
    console.print(f"{variable}: {was} -> {status.fingerprint} written to {env_file} (mode 0600)")
    if settings.key_watch_interval > 0:
        console.print(f"A running service switches within {settings.key_watch_interval:g} s, without a restart.")
    if old is not None:
        console.print(f"Keep the old key ({was}) valid at {provider.display_name} until "
                      f"{_date(status.previous_valid_until)} (KEY_GRACE_SECONDS), then revoke it.")
    if getattr(load_settings(_env_file=None), variable.lower()) is not None:
        err.print(f"[yellow]warning:[/] {variable} is also set in this shell's environment, which wins over "
                  f"{env_file}: a service started with it keeps the old key until it is restarted without it")
    return 0
