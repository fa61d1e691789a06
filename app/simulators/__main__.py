"""``python -m app.simulators``: run all provider simulators and the control plane.

Prints one JSON line ``{"control_url": ..., "base_urls": {...}}`` once every port listens,
then serves until SIGTERM/SIGINT and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from .cluster import SimulatorCluster


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m app.simulators",
        description="Run the LLM provider simulators and their control plane.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--control-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--port-base",
        type=int,
        default=0,
        help="first provider port (providers use consecutive ports); 0 picks free ports",
    )
    parser.add_argument(
        "--stable-ids",
        action="store_true",
        help="the same request always gets the same ids and timestamps (for byte-exact comparisons)",
    )
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    cluster = SimulatorCluster(
        host=args.host, port_base=args.port_base, control_port=args.control_port, stable_ids=args.stable_ids
    )
    await cluster.start()
    try:
        sys.stdout.write(
            json.dumps({"control_url": cluster.control_url, "base_urls": cluster.base_urls}) + "\n"
        )
        sys.stdout.flush()
        await stop.wait()
    finally:
        await cluster.stop()


def main(argv: list[str] | None = None) -> int:
    """Serve the simulators until SIGINT or SIGTERM; prints their URLs as one JSON line first."""
    args = _parse(argv)
    try:
        import uvloop
    except ImportError:
        asyncio.run(_serve(args))
    else:
        uvloop.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
