"""The spec's setup step: collect Portkey and provider keys, validate them, write ``.env`` (mode 0600).

Used by ``scripts/setup_portkey_keys.py`` and ``sophia setup``. Interactive by default (hidden
input); ``--non-interactive`` takes values from ``--set NAME=VALUE`` and the environment. An
existing ``.env`` is only changed with ``--force``, and then only the lines this tool manages:
comments and other variables stay as they were.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli.command import run_command
from app.core.providers import PROVIDERS
from app.core.settings import HOSTED_BASE_URL

HEADER = "# Written by scripts/setup_portkey_keys.py (sophia setup). Keep this file out of git."
_GENERIC = re.compile(r"^[\x21-\x7e]{8,512}$")  # printable ASCII, no spaces


@dataclass(frozen=True, slots=True)
class _Var:
    name: str
    secret: bool
    prompt: str
    pattern: re.Pattern[str] | None = None
    shape: str = ""

    def problem(self, value: str) -> str | None:
        """Why ``value`` is not acceptable for this variable, or None."""
        from app.core.placeholders import looks_like_placeholder

        if looks_like_placeholder(value) and not self.secret:
            return "looks like a placeholder, not a real value"
        if self.name == "REDIS_URL":
            return None if re.match(r"^rediss?://[^\s/]+", value) else "must be a redis:// or rediss:// URL"
        if self.name == "MILVUS_URI":
            return None if re.match(r"^(https?|tcp)://[^\s/]+|^[^\s]+\.db$", value) else (
                "must be a Milvus server URL (http://host:19530) or a Milvus Lite file (ending in .db)")
        if self.name.endswith("_URL"):
            return None if re.match(r"^https?://[^\s/]+", value) else "must be an http:// or https:// URL"
        if looks_like_placeholder(value):
            return "looks like a placeholder, not a real key"
        if not _GENERIC.match(value):
            return "must be 8 to 512 printable characters without spaces"
        if self.pattern is not None and not self.pattern.match(value):
            return f"does not look like a {self.prompt} ({self.shape})"
        return None


# Key shapes the providers document; providers whose keys have no stable prefix get the generic check.
_SHAPES: dict[str, tuple[str, str]] = {
    "openai": (r"^sk-[A-Za-z0-9_\-]{16,}$", "starts with sk-"),
    "anthropic": (r"^sk-ant-[A-Za-z0-9_\-]{16,}$", "starts with sk-ant-"),
    "deepseek": (r"^sk-[A-Za-z0-9]{16,}$", "starts with sk-"),
    "groq": (r"^gsk_[A-Za-z0-9]{16,}$", "starts with gsk_"),
    "perplexity": (r"^pplx-[A-Za-z0-9]{16,}$", "starts with pplx-"),
}


# The spec's "vector databases ... more database configs" and its Redis cache; unset keeps the embedded
# defaults (Qdrant local mode, the in-process cache), so each is asked for and written only when given.
STORE_VARS = (
    _Var("QDRANT_URL", False, "Qdrant server URL"), _Var("QDRANT_API_KEY", True, "Qdrant API key"),
    _Var("WEAVIATE_URL", False, "Weaviate server URL"), _Var("WEAVIATE_API_KEY", True, "Weaviate API key"),
    _Var("MILVUS_URI", False, "Milvus server URL or Milvus Lite file"),
    _Var("REDIS_URL", False, "Redis URL for the shared cache"),
)


def _managed_vars() -> list[_Var]:
    out = [_Var("PORTKEY_API_KEY", True, "Portkey API key"),
           _Var("PORTKEY_BASE_URL", False, "Portkey gateway URL")]
    for name, p in PROVIDERS.items():
        pattern, shape = _SHAPES.get(name, (None, ""))
        out.append(_Var(p.vk_env, True, f"{p.display_name} virtual key"))
        out.append(_Var(p.api_key_env, True, f"{p.display_name} API key",
                       re.compile(pattern) if pattern else None, shape))
        out.append(_Var(p.base_url_env, False, f"{p.display_name} API base URL"))
    return [*out, *STORE_VARS]


class SetupError(Exception):
    """Setup cannot go on; the message says why (never a key's value), ``code`` is the exit code."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def validate(values: Mapping[str, str]) -> dict[str, str]:
    """The values this tool manages, checked; raises SetupError naming every bad variable (not its value)."""
    known = {v.name: v for v in _managed_vars()}
    problems = []
    clean: dict[str, str] = {}
    for name, value in values.items():
        var = known.get(name)
        if var is None:
            problems.append(f"{name}: not a variable this tool manages")
            continue
        value = value.strip()
        if not value:
            continue
        problem = var.problem(value)
        if problem:
            problems.append(f"{name}: {problem}")
        else:
            clean[name] = value
    if problems:
        raise SetupError("invalid values:\n  " + "\n  ".join(problems))
    return clean


def collect_interactive(ask: Callable[[str], str] = getpass.getpass,
                        ask_plain: Callable[[str], str] = input,
                        say: Callable[[str], None] = print) -> dict[str, str]:
    """Ask for each key with hidden input; blank skips. Re-asks until a value is valid or blank."""
    known = {v.name: v for v in _managed_vars()}

    def one(name: str, hidden: bool = True) -> str:
        var = known[name]
        while True:
            value = (ask if hidden else ask_plain)(f"{var.prompt} ({name}, blank to skip): ").strip()
            if not value:
                return ""
            problem = var.problem(value)
            if problem is None:
                return value
            say(f"  {name} {problem}; try again")

    values: dict[str, str] = {}
    say("Hosted Portkey uses a Portkey API key plus one virtual key per provider; a self-hosted gateway "
        "(`sophia gateway`) uses the providers' own API keys.")
    portkey = one("PORTKEY_API_KEY")
    if portkey:
        values["PORTKEY_API_KEY"] = portkey
        url = one("PORTKEY_BASE_URL", hidden=False)
        values["PORTKEY_BASE_URL"] = url or HOSTED_BASE_URL
    else:
        url = one("PORTKEY_BASE_URL", hidden=False)
        if url:
            values["PORTKEY_BASE_URL"] = url
    for p in PROVIDERS.values():
        value = one(p.vk_env if portkey else p.api_key_env)
        if value:
            values[p.vk_env if portkey else p.api_key_env] = value
    say("Vector databases and the cache: blank keeps the embedded defaults (Qdrant local mode in "
        ".sophia/qdrant, an in-process cache), which need nothing installed.")
    for url, key in (("QDRANT_URL", "QDRANT_API_KEY"), ("WEAVIATE_URL", "WEAVIATE_API_KEY"),
                     ("MILVUS_URI", None), ("REDIS_URL", None)):
        value = one(url, hidden=False)
        if value:
            values[url] = value
            if key and (secret := one(key)):  # a server's key, asked only for a server that was given
                values[key] = secret
    return values


def collect_non_interactive(pairs: list[str], environ: Mapping[str, str]) -> dict[str, str]:
    """``--set NAME=VALUE`` pairs over the environment's values of the managed variables."""
    values = {v.name: environ[v.name] for v in _managed_vars() if environ.get(v.name)}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SetupError(f"--set expects NAME=VALUE, got {name!r}")
        values[name.strip().upper()] = value
    return values


def merge_env(existing: str, values: Mapping[str, str]) -> str:
    """``existing`` with managed lines updated in place and new ones appended; other lines kept."""
    lines = existing.splitlines()
    seen: set[str] = set()
    for i, line in enumerate(lines):
        match = re.match(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=", line)
        if match and match.group(1) in values:
            lines[i] = f"{match.group(1)}={values[match.group(1)]}"
            seen.add(match.group(1))
    new = [f"{name}={value}" for name, value in values.items() if name not in seen]
    if new:
        if lines and lines[-1].strip():
            lines.append("")
        if HEADER not in lines:
            lines.append(HEADER)
        lines.extend(new)
    return "\n".join(lines) + "\n"


def write_env(path: Path, values: Mapping[str, str], force: bool) -> None:
    """Write ``path`` with mode 0600, atomically; an existing file needs ``force``."""
    if path.exists() and not force:
        raise SetupError(f"{path} already exists; rerun with --force to update it (lines this tool does not "
                         "manage are kept)", code=1)
    existing = path.read_text() if path.exists() else ""
    text = merge_env(existing, values)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


async def verify(values: Mapping[str, str]) -> dict[str, Any]:
    """Try each configured provider through the gateway (a temporary local one when none is given)."""
    from app.core.settings import load_settings

    settings_values: dict[str, Any] = {k.lower(): v for k, v in values.items()}
    return await verify_settings(load_settings(_env_file=None, **settings_values))


async def verify_settings(settings: Any, providers: list[str] | None = None) -> dict[str, Any]:
    """One tiny completion per provider (default: every configured one) through the settings' gateway,
    or a temporary local one when they name none; no retries, no cache. ``sophia keys rotate`` uses it too."""
    from app.cli.integration_check import probe_completion
    from app.core.manager import PortkeyManager

    gateway = None
    update: dict[str, Any] = {"max_retries": 0}
    if settings.portkey_base_url is None and not settings.hosted:
        from app.gateway import GatewayProcess

        gateway = GatewayProcess().start()
        update["portkey_base_url"] = gateway.url
    try:
        manager = PortkeyManager(settings.model_copy(update=update))
        try:
            names = providers if providers is not None else manager.router.configured_providers()
            probes = await asyncio.gather(*(probe_completion(manager, p) for p in names))
        finally:
            await manager.aclose()
    finally:
        if gateway is not None:
            gateway.stop()
    return dict(zip(names, probes, strict=True))


def setup(
    non_interactive: Annotated[bool, typer.Option(
        "--non-interactive", help="Take values from --set and the environment instead of asking.")] = False,
    pairs: Annotated[list[str] | None, typer.Option(
        "--set", metavar="NAME=VALUE",
        help="A value, e.g. --set GROQ_API_KEY=gsk_... (prefer the environment: flags show in ps).")] = None,
    env_file: Annotated[Path, typer.Option(help="The file to write.")] = Path(".env"),
    force: Annotated[bool, typer.Option("--force", help="Update an existing file.")] = False,
    verify_keys: Annotated[bool, typer.Option(
        "--verify", help="Try each provider through the gateway after writing.")] = False,
) -> None:
    """Write .env with your Portkey and provider keys (hidden input; validated; mode 0600)."""
    raise typer.Exit(_setup(non_interactive, pairs or [], env_file, force, verify_keys))


def _setup(non_interactive: bool, pairs: list[str], env_file: Path, force: bool, verify_keys: bool) -> int:
    try:
        if env_file.exists() and not force:
            raise SetupError(f"{env_file} already exists; rerun with --force to update it (lines this tool "
                             "does not manage are kept)", code=1)
        raw = (collect_non_interactive(pairs, os.environ) if non_interactive
               else collect_interactive())
        values = validate(raw)
        if not values:
            raise SetupError("no value given: nothing to write (see --help)")
        write_env(env_file, values, force)
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except (KeyboardInterrupt, EOFError):
        print("\naborted; nothing written", file=sys.stderr)
        return 130
    print(f"wrote {env_file} (mode 0600): {', '.join(sorted(values))}")
    if not verify_keys:
        return 0
    results = asyncio.run(verify(values))
    failing = [p for p, r in results.items() if not r.ok]
    for provider, result in results.items():
        print(f"{'✅' if result.ok else '❌'} {provider}: {result.reason}")
    if not results:
        print("❌ no provider is configured: nothing to verify")
        return 1
    if failing:
        print(f"verification failed for: {', '.join(failing)}")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """``scripts/setup_portkey_keys.py``: the same command as ``sophia setup``."""
    return run_command(setup, argv, "setup_portkey_keys.py")


if __name__ == "__main__":
    sys.exit(main())
