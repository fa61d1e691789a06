"""First-call time of the spec's Artemis factory example, in a fresh process, as a newcomer runs it.

    .venv/bin/python -m bench.first_call [--mode make-run|exported] [--runs 5]

make-run   a `sophia serve --embedded` (what `make run` runs) is up in a folder; the example runs there
           with no variable set and finds the service (its runtime file): its gateway, its simulators,
           agent memory through the service.
exported   the way it worked before the service could be found: a sandbox's variables (what `sophia
           sandbox` prints) exported into the example's environment, memory in the example's own folder.

Each run is a new interpreter executing the spec's example (create_agent_with_portkey, then
execute_with_portkey; memory on, the default). Prints the wall time from process start to exit and,
from inside, the time to the first result; the median over the runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app.gateway.process import free_port, stop_process
from tests.spec_examples import ARTEMIS

REPO = Path(__file__).resolve().parents[1]
_BODY = "\n".join("    " + line for line in ARTEMIS.splitlines())
EXAMPLE = f"""import time
started = time.perf_counter()
import asyncio

async def main():
{_BODY}
    print(f"first result after {{time.perf_counter() - started:.2f}} s from {{result.provider}}")

asyncio.run(main())
"""


def _clean_env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.endswith(("_API_KEY", "_VK", "_BASE_URL")) and k not in ("QDRANT_PATH", "MEMORY_ENABLED")}
    env.update(PYTHONPATH=str(REPO), SOPHIA_DATA_DIR=str(folder / ".sophia"))
    return env


def _time_runs(folder: Path, env: dict[str, str], runs: int) -> list[float]:
    (folder / "example.py").write_text(EXAMPLE)
    walls = []
    for i in range(runs):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "example.py"], cwd=folder, env=env, capture_output=True, text=True,
                              timeout=300, check=False)
        walls.append(time.perf_counter() - started)
        if done.returncode != 0:
            sys.exit(f"run {i + 1} failed:\n{done.stderr[-3000:]}")
        print(f"run {i + 1}: {walls[-1]:.2f} s wall; {done.stdout.strip()}")
    return walls


def main(mode: str, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = _clean_env(folder)
        if mode == "exported":
            from app.sandbox import Sandbox

            with Sandbox() as box:
                walls = _time_runs(folder, {**env, **box.env, "MAX_RETRIES": "1"}, runs)
        else:
            service = subprocess.Popen([sys.executable, "-m", "app.cli.main", "serve", "--embedded", "--port",
                                        str(free_port()), "--log-level", "warning"], cwd=folder, env=env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                deadline = time.monotonic() + 120
                while not (folder / ".sophia" / "service.json").exists():
                    if service.poll() is not None or time.monotonic() > deadline:
                        sys.exit("the service did not start")
                    time.sleep(0.1)  # waiting for another process to write its runtime file
                walls = _time_runs(folder, env, runs)
            finally:
                stop_process(service)  # type: ignore[arg-type]
    print(f"{mode}: median {statistics.median(walls):.2f} s wall over {runs} fresh processes "
          f"(min {min(walls):.2f}, max {max(walls):.2f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("make-run", "exported"), default="make-run")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    main(args.mode, args.runs)
