"""200 agents executing at once (100 Artemis, 100 Sophia) through one manager, gateway and simulators.

    .venv/bin/python -m bench.agents_concurrency [--agents 200] [--rounds 3]

Reports the wall time of the whole asyncio.gather, per-call latency p50/p99 and throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from bench.stats import print_table, summary


async def one_round(artemis, sophia, agents) -> tuple[float, list[float]]:
    from app.artemis.portkey_unified_factory import ArtemisFactory

    latencies: list[float] = []

    async def run(factory, agent) -> None:
        t0 = time.perf_counter()
        if isinstance(factory, ArtemisFactory):
            await factory.execute_with_portkey(agent, f"Review the code of {agent.name}", max_tokens=64)
        else:
            await factory.generate_business_insight(agent, f"Growth plan for {agent.name}?", {"region": "EU"})
        latencies.append((time.perf_counter() - t0) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(run(f, a) for f, a in agents))
    return time.perf_counter() - started, latencies


async def main(count: int, rounds: int, memory: bool) -> None:
    import os

    os.environ["MEMORY_ENABLED"] = "true" if memory else "false"
    from app.artemis.portkey_unified_factory import ArtemisFactory, TechnicalAgentRole
    from app.core.manager import PortkeyManager
    from app.core.settings import load_settings
    from app.sandbox import Sandbox
    from app.sophia.portkey_unified_factory import BusinessAgentRole, SophiaFactory

    with Sandbox() as box:
        manager = PortkeyManager(load_settings(_env_file=None, max_retries=0, cache_ttl=0,
                                               **{k.lower(): v for k, v in box.env.items()}))
        artemis, sophia = ArtemisFactory(manager), SophiaFactory(manager)
        agents = []
        for i in range(count // 2):
            agents.append((artemis, await artemis.create_agent_with_portkey(
                f"tech-{i}", list(TechnicalAgentRole)[i % 4], "python")))
            agents.append((sophia, await sophia.create_business_agent(
                f"biz-{i}", list(BusinessAgentRole)[i % 4], "retail")))
        await one_round(artemis, sophia, agents[:20])  # warm up the pool
        walls, stats = [], []
        for _ in range(rounds):
            wall, latencies = await one_round(artemis, sophia, agents)
            walls.append(wall)
            stats.append(summary(latencies, wall))
        pools = manager.transport.pool_count
    print_table(
        f"{count} agents at once through one manager (median of {rounds} rounds; memory {'on' if memory else 'off'})",
        ["agents", "wall s", "p50 ms", "p99 ms", "calls/s", "HTTP pools"],
        [[count, statistics.median(walls), statistics.median(s["p50"] for s in stats),
          statistics.median(s["p99"] for s in stats), statistics.median(s["rps"] for s in stats), pools]],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory", action="store_true", help="with long-term memory on (embeds and stores)")
    args = parser.parse_args()
    asyncio.run(main(args.agents, args.rounds, args.memory))
