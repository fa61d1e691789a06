"""Agent cache hit rate with memory on: the same Artemis task, run again and again, in several processes.

    .venv/bin/python -m bench.agent_cache_hits [--processes 2] [--runs 2] [--redis-url URL]

Each process runs the spec's Artemis example (``create_agent_with_portkey`` then ``execute_with_portkey``
with the same prompt) ``--runs`` times, one process after the other, against the sandbox (the real
gateway, simulated providers), with agent memory on (the default: embedded Qdrant in a temporary
folder, the local embedder) and the response cache on Redis (a throwaway ``redis-server`` unless
``--redis-url`` is given), so that processes can share answers. The first run of all can only miss;
every later run of the same task should be a hit. Prints, per run, whether it was a hit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from bench.cache_latency import throwaway_redis

_CHILD = """
import asyncio, json, sys
from app.artemis.portkey_unified_factory import get_portkey_artemis_factory, TechnicalAgentRole

async def main(name, runs):
    factory = get_portkey_artemis_factory()
    agent = await factory.create_agent_with_portkey(name=name, role=TechnicalAgentRole.SECURITY_AUDITOR,
                                                    specialty="vulnerability_detection")
    out = []
    for _ in range(runs):
        result = await factory.execute_with_portkey(agent=agent, prompt="Analyze this code for security "
                                                    "vulnerabilities: eval(input())", max_tokens=2000)
        out.append(result.cached)
    print(json.dumps(out))

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def main(processes: int, runs: int, redis_url: str | None) -> None:
    from app.sandbox import Sandbox

    name = f"HitRate{uuid.uuid4().hex[:8]}"  # a fresh agent: no earlier memories or cache entries
    outcomes: list[str | None] = []
    with Sandbox() as box, throwaway_redis(redis_url) as redis, tempfile.TemporaryDirectory() as data:
        if redis is None:
            sys.exit("no redis-server on PATH: give --redis-url (processes share answers only through Redis)")
        env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_VK", "_BASE_URL"))}
        env.update(box.env, REDIS_URL=redis, SOPHIA_DATA_DIR=data, MEMORY_ENABLED="true", MAX_RETRIES="0",
                   PYTHONPATH=str(Path(__file__).resolve().parents[1]))
        env.pop("QDRANT_PATH", None)
        for p in range(processes):
            done = subprocess.run([sys.executable, "-c", _CHILD, name, str(runs)], env=env, cwd=data,
                                  capture_output=True, text=True, check=False, timeout=300)
            if done.returncode != 0:
                sys.exit(f"process {p + 1} failed:\n{done.stderr[-3000:]}")
            outcomes.extend(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"process {p + 1}: {json.loads(done.stdout.strip().splitlines()[-1])}")
    later = outcomes[1:]
    hits = sum(1 for c in later if c)
    print(f"agent cache: {hits} hits of {len(later)} repeated runs ({100 * hits / max(1, len(later)):.0f} %); "
          f"all runs: {hits} of {len(outcomes)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, default=2, help="processes, run one after the other")
    parser.add_argument("--runs", type=int, default=2, help="runs of the task in each process")
    parser.add_argument("--redis-url", default=None, help="use this Redis instead of a throwaway server")
    args = parser.parse_args()
    main(args.processes, args.runs, args.redis_url)
