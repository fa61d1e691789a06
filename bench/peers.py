"""Our routing layer next to LiteLLM, on the same zero-latency upstream stub.

    .venv/bin/python -m bench.peers      # --requests 400 --stream-requests 200 --concurrency 32 [--markdown]

Paths, all ending at the same stub (the OpenAI simulator, answering at once):
  direct    AsyncOpenAI straight to the stub
  gateway   AsyncOpenAI -> our pinned OSS gateway, with the x-portkey-config our manager would send
  manager   PortkeyManager.acreate_completion -> gateway (the spec's public API; stream=True for streams)
  service   AsyncOpenAI -> `sophia serve` -> gateway
  router    LiteLLM Router in process
  proxy     AsyncOpenAI -> LiteLLM proxy
Scenarios: sequential (p50, p99), 32 concurrent (p50, p99, req/s), stream (time to the first content chunk).

Method: every measurement (one path, one scenario) runs in a fresh interpreter after its own warm-up; the
gateway, the service and the proxy are started afresh for each visit of a path; the paths run in forward,
reverse, then forward order, and each cell is the median of those three runs with their min-max. "Added"
is a path's figure minus direct's in the same run. Like for like: the response cache is off (CACHE_TTL=0;
LiteLLM caches nothing by default), both servers require a bearer token (LiteLLM's proxy refuses to start
without a master key; `sophia serve` gets SOPHIA_API_KEYS) and log at warning level, and the service's
rate limit is lifted.
LiteLLM runs from its own virtual environment (``bench/litellm_venv.py``, created on the first run).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path

from app.core.providers import PROVIDERS
from app.gateway.process import PRELOADS, GatewayProcess, free_port, stop_process
from app.simulators.process import start_simulators_process
from bench import litellm_venv
from bench.peer_clients import MODEL, SCENARIOS, STUB_KEY, Setup, setup_json
from bench.servers import start_http_server
from bench.service_overhead import start_service
from bench.stats import print_table

REPO = Path(__file__).resolve().parents[1]
LABELS = {
    "direct": "direct: AsyncOpenAI -> stub",
    "gateway": "AsyncOpenAI -> our gateway",
    "manager": "our PortkeyManager -> gateway",
    "service": "AsyncOpenAI -> sophia serve -> gateway",
    "router": "LiteLLM Router (in process)",
    "proxy": "AsyncOpenAI -> LiteLLM proxy",
}
PATHS = tuple(LABELS)
UNPATCHED = tuple(p for p in PRELOADS if p != "source-patches.cjs")
LITELLM_PATHS = ("router", "proxy")
RUN_ORDERS = ("forward", "reverse", "forward")
# (ours, LiteLLM's, label): the pairs the issue compares.
PEERS = (("manager", "router", "our manager vs LiteLLM Router"), ("service", "proxy", "our service vs LiteLLM proxy"))

Runs = dict[str, dict[str, list[float]]]  # path -> metric -> one value per run


def clean_environ() -> dict[str, str]:
    """This environment without settings of ours or LiteLLM's: each process gets exactly what it needs."""
    own = (*(p.env_prefix + "_" for p in PROVIDERS.values()), "PORTKEY_", "SOPHIA_", "LITELLM_")
    return {k: v for k, v in os.environ.items() if not k.startswith(own)} | {"PYTHONPATH": str(REPO)}


def our_settings(setup: Setup) -> dict[str, str]:
    return {"PORTKEY_BASE_URL": setup.gateway_url, "OPENAI_API_KEY": STUB_KEY, "OPENAI_BASE_URL": setup.stub_url,
            "MAX_RETRIES": "0", "CACHE_TTL": "0", "MEMORY_ENABLED": "false",
            "SOPHIA_RATE_LIMIT": "1000000/minute"}


@contextmanager
def servers_for(path: str, setup: Setup, workdir: Path, litellm_bin: Path | None,
                gateway_preloads: tuple[str, ...]) -> Iterator[Setup]:
    """The processes ``path`` goes through, started afresh; yields the setup pointing at them."""
    with ExitStack() as stack:
        if path in ("gateway", "manager", "service"):
            gateway = GatewayProcess(log_path=workdir / "gateway.log", preloads=gateway_preloads)
            stack.enter_context(gateway)
            setup = replace(setup, gateway_url=gateway.url)
        if path == "service":
            port = free_port()
            env = {**clean_environ(), **our_settings(setup), "SOPHIA_API_KEYS": setup.server_token}
            proc = start_service(env, port, str(workdir))
            stack.callback(stop_process, proc)
            setup = replace(setup, service_url=f"http://127.0.0.1:{port}/v1")
        if path == "proxy":
            assert litellm_bin is not None
            port = free_port()
            config = workdir / "litellm.yaml"
            config.write_text(json.dumps({  # YAML is a superset of JSON
                "model_list": [{"model_name": MODEL, "litellm_params": {
                    "model": f"openai/{MODEL}", "api_base": setup.stub_url, "api_key": STUB_KEY}}],
                "general_settings": {"master_key": setup.server_token}}))
            proc = start_http_server(
                [str(litellm_bin / "litellm"), "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
                 "--num_workers", "1"],
                env={**clean_environ(), **litellm_venv.LITELLM_ENV, "LITELLM_LOG": "WARNING"}, cwd=workdir,
                ready_url=f"http://127.0.0.1:{port}/health/liveliness", log=workdir / "litellm-proxy.log")
            stack.callback(stop_process, proc)
            setup = replace(setup, proxy_url=f"http://127.0.0.1:{port}/v1")
        yield setup


def measure(path: str, scenario: str, setup: Setup, workdir: Path, litellm_bin: Path | None) -> dict[str, float]:
    """One measurement in a fresh interpreter (LiteLLM's for the Router)."""
    python = str(litellm_bin / "python") if path == "router" and litellm_bin else sys.executable
    env = clean_environ() | (our_settings(setup) if path == "manager" else {})
    if path == "router":
        env |= litellm_venv.LITELLM_ENV
    done = subprocess.run([python, "-m", "bench.peer_clients", path, scenario, setup_json(setup)], env=env,
                          cwd=workdir, capture_output=True, text=True, check=False, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"{path}/{scenario} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(setup: Setup, paths: tuple[str, ...], workdir: Path, gateway_preloads: tuple[str, ...]) -> Runs:
    litellm_bin = litellm_venv.ensure() if set(paths) & set(LITELLM_PATHS) else None
    runs: Runs = {path: {} for path in paths}
    with start_simulators_process() as stub:
        setup = replace(setup, stub_url=stub.base_urls["openai"])
        for number, order in enumerate(RUN_ORDERS, 1):
            for path in paths if order == "forward" else paths[::-1]:
                print(f"run {number}/{len(RUN_ORDERS)} ({order}): {path}", file=sys.stderr)
                with servers_for(path, setup, workdir, litellm_bin, gateway_preloads) as path_setup:
                    for scenario in SCENARIOS:
                        for metric, value in measure(path, scenario, path_setup, workdir, litellm_bin).items():
                            runs[path].setdefault(f"{scenario}_{metric}", []).append(value)
    return runs


def added(runs: Runs, path: str, metric: str) -> list[float]:
    """``path`` minus direct, run by run (both were measured in the same pass over the paths)."""
    return [value - base for value, base in zip(runs[path][metric], runs["direct"][metric], strict=True)]


def cell(values: list[float], unit: str = "", signed: bool = False) -> str:
    fmt = "{:+.2f}" if signed else "{:.2f}"
    if unit == "req/s":
        fmt = "{:.0f}"
    low, high = min(values), max(values)
    return f"{fmt.format(statistics.median(values))} ({fmt.format(low)}..{fmt.format(high)})"


def ratio(ours: list[float], theirs: list[float]) -> str:
    theirs_median = statistics.median(theirs)
    return f"{statistics.median(ours) / theirs_median:.2f}x" if theirs_median > 0 else "n/a"


def tables(runs: Runs) -> list[tuple[str, list[str], list[list[str]]]]:
    absolute = [[LABELS[p], cell(m["sequential_p50"]), cell(m["sequential_p99"]), cell(m["concurrent_p50"]),
                 cell(m["concurrent_p99"]), cell(m["concurrent_rps"], "req/s"), cell(m["stream_first_chunk_p50"])]
                for p, m in runs.items()]
    out = [("Measured (ms; median of 3 runs, min..max)",
            ["path", "p50", "p99", "p50 at 32", "p99 at 32", "req/s at 32", "first chunk p50"], absolute)]
    if "direct" not in runs:
        return out
    added_rows = [[LABELS[p], cell(added(runs, p, "sequential_p50"), signed=True),
                   cell(added(runs, p, "sequential_p99"), signed=True), cell(runs[p]["concurrent_rps"], "req/s"),
                   cell(added(runs, p, "stream_first_chunk_p50"), signed=True)]
                  for p in runs if p != "direct"]
    out.append(("Added to a direct call (ms, same run; median of 3 runs, min..max)",
                ["path", "added p50", "added p99", "req/s at 32", "added first chunk"], added_rows))
    peer_rows = []
    for ours, theirs, label in PEERS:
        if ours in runs and theirs in runs:
            first_ours, first_theirs = (statistics.median(added(runs, p, "stream_first_chunk_p50"))
                                        for p in (ours, theirs))
            peer_rows.append([label,
                              ratio(added(runs, ours, "sequential_p50"), added(runs, theirs, "sequential_p50")),
                              ratio(added(runs, ours, "sequential_p99"), added(runs, theirs, "sequential_p99")),
                              ratio(runs[ours]["concurrent_rps"], runs[theirs]["concurrent_rps"]),
                              f"{first_ours:+.2f} vs {first_theirs:+.2f} ms"])
    if peer_rows:
        out.append(("Ours against LiteLLM (ratios of medians; below 1x is better for latency, above for req/s)",
                    ["comparison", "added p50", "added p99", "req/s at 32", "added first chunk"], peer_rows))
    return out


def print_markdown(title: str, columns: list[str], rows: list[list[str]]) -> None:
    print(f"\n{title}\n\n| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400, help="per sequential and per concurrent measurement")
    parser.add_argument("--stream-requests", type=int, default=200, help="streams per first-chunk measurement")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--paths", default=",".join(PATHS), help=f"comma-separated subset of {','.join(PATHS)}")
    parser.add_argument("--markdown", action="store_true", help="also print the tables as Markdown")
    parser.add_argument("--unpatched-gateway", action="store_true",
                        help="run the gateway as npm ships it, without gateway/source-patches.cjs (for before/after)")
    args = parser.parse_args()
    paths = tuple(p for p in PATHS if p in args.paths.split(","))
    setup = Setup(stub_url="", requests=args.requests, stream_requests=args.stream_requests,
                  concurrency=args.concurrency, server_token="sk-" + secrets.token_hex(32))
    with tempfile.TemporaryDirectory(prefix="sophia-peers-") as workdir:
        runs = run(setup, paths, Path(workdir), UNPATCHED if args.unpatched_gateway else PRELOADS)
    results = REPO / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / f"peers{'-unpatched' if args.unpatched_gateway else ''}.json").write_text(json.dumps(runs, indent=1))
    for title, columns, rows in tables(runs):
        print_table(title, columns, rows)
        if args.markdown:
            print_markdown(title, columns, rows)


if __name__ == "__main__":
    main()
