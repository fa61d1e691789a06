"""The spec's integration test (step 3): six checks, each ✅ or ❌ with a reason, and a JSON report.

Used by ``scripts/test_portkey_integration.py`` and ``sophia check``. Every configured provider is
exercised on its own (no fallbacks), so a broken one is named instead of hidden by a fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import platform
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import SecretStr

from app.cli.command import run_command
from app.core.redaction import describe_error, redact

PROBE = [{"role": "user", "content": "Reply with the single word OK."}]


@dataclass
class CheckResult:
    """One of the six checks: passed or not, why, how long it took and, per provider, what happened."""

    name: str
    ok: bool
    reason: str
    latency_ms: float = 0.0
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def failing(self) -> list[str]:
        """The providers this check found failing."""
        return [name for name, result in self.providers.items() if not result.get("ok")]


@dataclass
class ProviderProbe:
    """One provider's probe: answered or not, why, and how long it took (milliseconds)."""

    ok: bool
    reason: str
    latency_ms: float

    def as_dict(self) -> dict[str, Any]:
        """The probe as JSON (latency rounded to 0.1 ms)."""
        return {"ok": self.ok, "reason": self.reason, "latency_ms": round(self.latency_ms, 1)}


async def probe_completion(manager: Any, provider: str) -> ProviderProbe:
    """One completion on ``provider`` alone; also used by ``setup --verify``."""
    started = time.perf_counter()
    try:
        response = await manager.acreate_completion(provider=provider, messages=PROBE, fallbacks=[],
                                                    max_tokens=16, cache=False)
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return ProviderProbe(False, describe_error(exc), (time.perf_counter() - started) * 1000)
    elapsed = (time.perf_counter() - started) * 1000
    if not response.content.strip():
        return ProviderProbe(False, "answered with empty content", elapsed)
    return ProviderProbe(True, f"{response.routing.model} answered in {elapsed:.0f} ms", elapsed)


async def _probe_embedding(manager: Any, provider: str) -> ProviderProbe:
    started = time.perf_counter()
    try:
        result = await manager.acreate_embedding(["Portkey integration check"], provider=provider)
    except Exception as exc:  # noqa: BLE001
        return ProviderProbe(False, describe_error(exc), (time.perf_counter() - started) * 1000)
    elapsed = (time.perf_counter() - started) * 1000
    dims = len(result.vectors[0]) if result.vectors else 0
    if not dims:
        return ProviderProbe(False, "returned no vector", elapsed)
    return ProviderProbe(True, f"{result.routing.model}: {dims} dimensions", elapsed)


async def _per_provider(name: str, providers: list[str], probe: Callable[[str], Awaitable[ProviderProbe]],
                        what: str) -> CheckResult:
    started = time.perf_counter()
    probes = dict(zip(providers, await asyncio.gather(*(probe(p) for p in providers)), strict=True))
    results = {p: r.as_dict() for p, r in probes.items()}
    failing = [p for p, r in probes.items() if not r.ok]
    elapsed = (time.perf_counter() - started) * 1000
    if not providers:
        return CheckResult(name, False, f"no configured provider offers {what}", elapsed)
    if failing:
        detail = "; ".join(f"{p}: {probes[p].reason}" for p in failing)
        return CheckResult(name, False, f"failing: {', '.join(failing)} ({detail})", elapsed, results)
    return CheckResult(name, True, f"{len(providers)} provider(s) OK: {', '.join(providers)}", elapsed, results)


async def _check_connection(manager: Any) -> CheckResult:
    import httpx2

    url = manager.gateway_url
    root = url.removesuffix("/v1")
    started = time.perf_counter()
    try:
        async with httpx2.AsyncClient(timeout=10, trust_env=False) as client:
            response = await client.get(root + "/")
    except httpx2.HTTPError as exc:
        return CheckResult("Portkey connection", False, f"cannot reach the gateway at {url} ({type(exc).__name__}); "
                           "start one with `sophia gateway` or set PORTKEY_BASE_URL",
                           (time.perf_counter() - started) * 1000)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code >= 500:
        return CheckResult("Portkey connection", False, f"gateway at {url} answered {response.status_code}", elapsed)
    mode = "hosted Portkey" if manager.settings.hosted else "self-hosted gateway"
    return CheckResult("Portkey connection", True, f"{mode} at {url} answered", elapsed)


def _check_keys(manager: Any) -> CheckResult:
    resolutions = manager.router.resolutions
    providers = {name: {"ok": r.configured, "reason": r.reason} for name, r in resolutions.items()}
    configured = [n for n, r in resolutions.items() if r.configured]
    kind = "virtual keys / provider keys" if manager.settings.hosted else "provider keys"
    if not configured:
        wanted = sorted({v for r in resolutions.values() for v in r.env_vars})
        return CheckResult("Virtual keys configured", False,
                           f"no provider has a usable key; set one of {', '.join(wanted)} "
                           "(run scripts/setup_portkey_keys.py)", 0.0, providers)
    missing = [n for n in resolutions if n not in configured]
    note = f"; not configured (left out of chains): {', '.join(missing)}" if missing else ""
    return CheckResult("Virtual keys configured", True, f"{kind} for {', '.join(configured)}{note}", 0.0, providers)


async def _check_health(manager: Any) -> CheckResult:
    from app.health import HealthChecker

    started = time.perf_counter()
    checks, gateway_down = await HealthChecker(manager, ttl=0).providers(force=True)
    configured = manager.router.configured_providers()
    results = {n: checks[n].as_dict() for n in configured}
    elapsed = (time.perf_counter() - started) * 1000
    failing = [n for n in configured if not checks[n].ok]
    if gateway_down:
        return CheckResult("Provider health checks", False, "the gateway is unreachable", elapsed, results)
    if not configured:
        return CheckResult("Provider health checks", False, "no configured provider to check", elapsed)
    if failing:
        detail = "; ".join(f"{n}: {checks[n].reason}" for n in failing)
        return CheckResult("Provider health checks", False, f"unhealthy: {', '.join(failing)} ({detail})",
                           elapsed, results)
    return CheckResult("Provider health checks", True, f"all {len(configured)} configured providers healthy",
                       elapsed, results)


async def _check_factories(runtime: Any) -> CheckResult:
    from app.artemis.portkey_unified_factory import ArtemisFactory, TechnicalAgentRole
    from app.sophia.portkey_unified_factory import BusinessAgentRole, SophiaFactory

    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    try:
        artemis = runtime.factory(ArtemisFactory)
        agent = await artemis.create_agent_with_portkey("IntegrationCheck", TechnicalAgentRole.CODE_REVIEWER,
                                                        "integration_check")
        run = await artemis.execute_with_portkey(agent, "Review: def add(a, b): return a + b", max_tokens=64)
        results["artemis"] = {"ok": bool(run.content), "provider": run.provider, "model": run.model,
                              "fallback_used": run.fallback_used, "latency_ms": round(run.latency_ms, 1)}
        sophia = runtime.factory(SophiaFactory)
        analyst = await sophia.create_business_agent("IntegrationCheck", BusinessAgentRole.MARKET_ANALYST,
                                                     "technology")
        insight = await sophia.generate_business_insight(analyst, "One trend in AI adoption?",
                                                         {"industry": "enterprise_software"}, max_tokens=128)
        results["sophia"] = {"ok": bool(insight.summary), "provider": insight.execution.provider,
                             "model": insight.execution.model, "fallback_used": insight.execution.fallback_used,
                             "latency_ms": round(insight.execution.latency_ms, 1)}
    except Exception as exc:  # noqa: BLE001
        elapsed = (time.perf_counter() - started) * 1000
        return CheckResult("Factory integration", False, describe_error(exc), elapsed, results)
    elapsed = (time.perf_counter() - started) * 1000
    ok = all(r["ok"] for r in results.values())
    served = ", ".join(f"{k} via {v['provider']}" + (" (fallback)" if v["fallback_used"] else "")
                       for k, v in results.items())
    return CheckResult("Factory integration", ok, served if ok else f"empty answer: {served}", elapsed, results)


async def run_checks(runtime: Any) -> list[CheckResult]:
    """The six checks in the spec's order; later checks still run when an earlier one fails."""
    from app.core.routing import Capability

    manager = runtime.manager
    results = [await _check_connection(manager), _check_keys(manager), await _check_health(manager)]
    chat = manager.router.configured_providers()
    results.append(await _per_provider("Completion tests", chat, lambda p: probe_completion(manager, p),
                                       "chat completions"))
    embedders = manager.router.configured_providers(Capability.EMBEDDING)
    results.append(await _per_provider("Embedding generation", embedders,
                                       lambda p: _probe_embedding(manager, p),
                                       "embeddings (OpenAI, Mistral or Together)"))
    results.append(await _check_factories(runtime))
    return results


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    from app.gateway import GATEWAY_VERSION

    out = {"python": platform.python_version(), "gateway (pinned OSS)": GATEWAY_VERSION}
    for package in ("sophia-intel-ai", "httpx2", "pydantic", "openai", "portkey-ai"):
        with contextlib.suppress(PackageNotFoundError):
            out[package] = version(package)
    return out


def _write_report(results: list[CheckResult], manager: Any, directory: Path, sandbox: list[str]) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"portkey_test_results_{stamp}.json"
    secrets = [v.get_secret_value() for v in manager.settings.model_dump().values() if isinstance(v, SecretStr)]
    report = {
        "timestamp": datetime.now(UTC).isoformat(),
        "passed": all(r.ok for r in results),
        "mode": "hosted" if manager.settings.hosted else "self-hosted",
        "gateway_url": manager.gateway_url,
        "sandbox_providers": sandbox,
        "versions": _versions(),
        "checks": [{**asdict(r), "status": "pass" if r.ok else "fail", "latency_ms": round(r.latency_ms, 1)}
                   for r in results],
    }
    text = redact(json.dumps(report, indent=2), secrets)
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    return path


def _print_results(results: list[CheckResult], console: Any) -> None:
    from rich.markup import escape

    for r in results:
        mark = "✅" if r.ok else "❌"
        console.print(f"{mark} {escape(r.name)}: {escape(r.reason)} [dim]({r.latency_ms:.0f} ms)[/]")


def check(
    sandbox_mode: Annotated[bool, typer.Option(
        "--sandbox", help="Run against a local gateway with simulators for every provider without a key.")] = False,
    output_dir: Annotated[Path, typer.Option(help="Where the JSON report goes.")] = Path("."),
) -> None:
    """The six integration checks (✅/❌ with reasons) and portkey_test_results_<UTC timestamp>.json."""
    raise typer.Exit(_check(sandbox_mode, output_dir))


def main(argv: list[str] | None = None) -> int:
    """``scripts/test_portkey_integration.py``: the same command as ``sophia check``."""
    return run_command(check, argv, "test_portkey_integration.py")


def _check(sandbox_mode: bool, output_dir: Path) -> int:
    from rich.console import Console
    from rich.markup import escape

    from app.core.errors import ConfigurationError
    from app.core.settings import load_settings
    from app.runtime import environment_settings

    console = Console()
    box = None
    sandbox: list[str] = []
    try:
        if sandbox_mode:
            from app.sandbox import Sandbox, as_settings, providers_with_keys

            settings = load_settings()
            box = Sandbox(real_keys=providers_with_keys(settings), gateway_dir=settings.sophia_gateway_dir)
            with console.status("starting the gateway and provider simulators"):
                box.start()
            sandbox = box.simulated
            # A simulator fault should fail fast, not back off 7 s (unless MAX_RETRIES says otherwise).
            retries = {} if "max_retries" in settings.model_fields_set else {"max_retries": 0}
            settings = load_settings(**as_settings(box.env), **retries)
            console.print(f"[bold yellow]SANDBOX[/]: simulated providers: {escape(', '.join(sandbox) or 'none')}")
        else:
            # With no key set, the simulators of the service `make run` started (if it runs) stand in.
            from app.cli.ops import print_sandbox_notice

            found = environment_settings()
            settings, sandbox = found.settings, list(found.sandboxed)
            print_sandbox_notice(found.notice)
    except ConfigurationError as exc:
        if box is not None:
            box.stop()
        console.print(f"❌ configuration: {escape(str(exc))}")
        return 2
    try:
        return asyncio.run(_run(console, output_dir, sandbox, settings))
    finally:
        if box is not None:
            box.stop()


async def _run(console: Any, output_dir: Path, sandbox: list[str], settings: Any) -> int:
    from rich.markup import escape

    from app.runtime import build_runtime

    runtime = build_runtime(settings)
    manager = runtime.manager
    try:
        with console.status("running the six integration checks"):
            results = await run_checks(runtime)
    finally:
        await runtime.aclose()
    _print_results(results, console)
    path = _write_report(results, manager, output_dir, sandbox)
    failed = [r for r in results if not r.ok]
    if failed:
        names = sorted({p for r in failed for p in r.failing})
        who = f"; failing provider(s): {', '.join(names)}" if names else ""
        console.print(f"[red]{len(failed)} of {len(results)} checks failed{escape(who)}[/]. "
                      f"Report: {escape(str(path))}")
        return 1
    console.print(f"[green]all {len(results)} checks passed[/]. Report: {escape(str(path))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
