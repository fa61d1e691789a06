"""One measurement of one path in this process: what ``bench.peers`` runs in a fresh interpreter each time.

    python -m bench.peer_clients PATH SCENARIO SETUP_JSON      # prints one JSON line

PATH is one of ``BUILDERS``; SCENARIO one of ``SCENARIOS``; SETUP_JSON is a ``Setup``. Only the standard
library (and ``bench.stats``, which needs nothing more) is imported up front: the LiteLLM Router path runs
in LiteLLM's own virtual environment, where neither our package nor its dependencies exist. Every path asks for the same thing: one short chat
completion of ``gpt-4o`` (a priced model for LiteLLM and for us), a unique prompt each time.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from bench.stats import percentile, timed

MODEL = "gpt-4o"
STUB_KEY = "sk-bench-not-a-real-key"
SCENARIOS = ("sequential", "concurrent", "stream")


@dataclass(frozen=True)
class Setup:
    stub_url: str  # the OpenAI API base of the zero-latency stub, e.g. http://127.0.0.1:9000/openai/v1
    gateway_url: str = ""
    service_url: str = ""
    proxy_url: str = ""
    server_token: str = ""  # the bearer token both servers (service and proxy) require
    requests: int = 400
    stream_requests: int = 200
    concurrency: int = 32


Complete = Callable[[], Awaitable[object]]
FirstChunk = Callable[[], Awaitable[float]]  # one whole stream; returns ms until its first content


def prompt() -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Hello {uuid.uuid4().hex}"}]  # unique: no cache could answer it


async def first_content_ms(started: float, chunks: AsyncIterable[Any], content: Callable[[Any], object]) -> float:
    """Reads the whole stream (so its connection is reused) and returns when its first content arrived."""
    first = None
    async for chunk in chunks:
        if first is None and content(chunk):
            first = (time.perf_counter() - started) * 1000
    if first is None:
        raise RuntimeError("the stream carried no content")
    return first


def openai_delta(chunk: Any) -> object:
    return chunk.choices and chunk.choices[0].delta.content


def openai_client(base_url: str, *, api_key: str = STUB_KEY, model: str = MODEL,
                  headers: dict[str, str] | None = None,
                  extra_body: dict[str, Any] | None = None) -> tuple[Complete, FirstChunk]:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0, default_headers=headers)

    async def complete() -> object:
        return await client.chat.completions.create(model=model, messages=prompt(), extra_body=extra_body)

    async def first_chunk() -> float:
        started = time.perf_counter()
        stream = await client.chat.completions.create(model=model, messages=prompt(), stream=True,
                                                      extra_body=extra_body)
        return await first_content_ms(started, stream, openai_delta)

    return complete, first_chunk


def direct(setup: Setup) -> tuple[Complete, FirstChunk]:
    return openai_client(setup.stub_url)


def gateway(setup: Setup) -> tuple[Complete, FirstChunk]:
    # The config our manager compiles for a one-target chain with MAX_RETRIES=0 (README, "How routing works").
    config = {"strategy": {"mode": "fallback"}, "targets": [{
        "provider": "openai", "api_key": STUB_KEY, "custom_host": setup.stub_url,
        "override_params": {"model": MODEL}, "request_timeout": 60000}]}
    headers = {"x-portkey-config": json.dumps(config, separators=(",", ":")),
               "x-portkey-strict-open-ai-compliance": "false"}
    return openai_client(setup.gateway_url, headers=headers)


def manager(setup: Setup) -> tuple[Complete, FirstChunk]:
    from app.core.portkey_config import get_portkey_manager

    routing = get_portkey_manager()  # settings from the environment bench.peers gives this process

    async def complete() -> object:
        return await routing.acreate_completion(provider="openai", model=MODEL, messages=prompt(), fallbacks=[])

    async def first_chunk() -> float:
        started = time.perf_counter()
        stream = await routing.acreate_completion(provider="openai", model=MODEL, messages=prompt(), fallbacks=[],
                                                  stream=True)
        return await first_content_ms(started, stream, lambda chunk: chunk.text)

    return complete, first_chunk


def service(setup: Setup) -> tuple[Complete, FirstChunk]:
    return openai_client(setup.service_url, api_key=setup.server_token, model=f"openai/{MODEL}",
                         extra_body={"fallbacks": []})


def router(setup: Setup) -> tuple[Complete, FirstChunk]:
    from litellm import Router

    litellm_router = Router(model_list=[{"model_name": MODEL, "litellm_params": {
        "model": f"openai/{MODEL}", "api_base": setup.stub_url, "api_key": STUB_KEY}}])

    async def complete() -> object:
        return await litellm_router.acompletion(model=MODEL, messages=prompt())

    async def first_chunk() -> float:
        started = time.perf_counter()
        stream = await litellm_router.acompletion(model=MODEL, messages=prompt(), stream=True)
        return await first_content_ms(started, stream, openai_delta)

    return complete, first_chunk


def proxy(setup: Setup) -> tuple[Complete, FirstChunk]:
    return openai_client(setup.proxy_url, api_key=setup.server_token)


BUILDERS: dict[str, Callable[[Setup], tuple[Complete, FirstChunk]]] = {
    "direct": direct, "gateway": gateway, "manager": manager, "service": service, "router": router, "proxy": proxy,
}


async def measure(path: str, scenario: str, setup: Setup) -> dict[str, float]:
    """Warm up (pools, imports, JITs), then measure; latencies in ms."""
    complete, first_chunk = BUILDERS[path](setup)
    if scenario == "stream":
        for _ in range(20):
            await first_chunk()
        firsts = [await first_chunk() for _ in range(setup.stream_requests)]
        return {"first_chunk_p50": percentile(firsts, 0.5), "first_chunk_p99": percentile(firsts, 0.99)}
    level = 1 if scenario == "sequential" else setup.concurrency
    await timed(complete, max(50, 2 * level), level)
    return await timed(complete, setup.requests, level)


def main(argv: list[str]) -> None:
    path, scenario, setup_json = argv
    if path not in BUILDERS or scenario not in SCENARIOS:
        raise SystemExit(f"usage: python -m bench.peer_clients {{{'|'.join(BUILDERS)}}} "
                         f"{{{'|'.join(SCENARIOS)}}} SETUP_JSON")
    result = asyncio.run(measure(path, scenario, Setup(**json.loads(setup_json))))
    print(json.dumps(result))


def setup_json(setup: Setup) -> str:
    return json.dumps(asdict(setup))


if __name__ == "__main__":
    main(sys.argv[1:])
