"""A fake Portkey gateway for unit tests of the failover rules, behind ``httpx2.MockTransport``.

It does what DESIGN.md section 4 records of the real one (pinned 1.15.2 with our preload): walk the
config's targets in order, fall back on any non-2xx, answer with ``x-portkey-last-used-option-index``
and ``x-sophia-attempts``; a provider's unreadable 200 makes it answer 500 "Something went wrong"
without naming a served target and without falling back; a started stream never falls back.
Each model's behaviour is scripted: ``"ok"``, a status code, ``"malformed"``, ``"stalled"`` (a
plain answer whose body did not come in time: our preload aborted it, so the gateway answers 500
as for an unreadable one), ``"hang"`` (the gateway never answers: a hosted gateway stuck on a body),
or for streams ``"cut_before"`` / ``"cut_after"`` (the stream ends without finishing before / after
its first content chunk), ``"drop"`` (the connection is lost after the role chunk, before any
content), ``"stall_before"`` / ``"stall_after"`` (silence after the role chunk / after the first
content chunk, the connection left open).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx2

from app.core.transport import GatewayTransport

URL = "http://gateway.test/v1"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _sse(*payloads: object) -> bytes:
    return b"".join(f"data: {p if isinstance(p, str) else json.dumps(p)}\n\n".encode() for p in payloads)


def _chunk(model: str, content: str | None = None, finish: str | None = None, role: bool = False) -> dict:
    delta = {"role": "assistant"} if role else ({"content": content} if content is not None else {})
    return {"id": "c", "object": "chat.completion.chunk", "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


class _Dropped(httpx2.AsyncByteStream):
    def __init__(self, head: bytes) -> None:
        self.head = head

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.head
        raise httpx2.ReadError("connection reset by peer")


class _Stalled(httpx2.AsyncByteStream):
    def __init__(self, head: bytes) -> None:
        self.head = head

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.head
        await asyncio.Event().wait()  # silence until the reader gives up


class FakeGateway:
    def __init__(self, embedding_latency: float = 0.0, **behaviour: str | int | list[str | int]) -> None:
        self.behaviour = behaviour
        self.embedding_latency = embedding_latency
        """Seconds the provider takes to answer each embeddings request."""
        self.requests: list[dict] = []
        """Each request's body and the models of its config's targets."""

    def _next(self, model: str) -> str | int:
        script = self.behaviour.get(model, "ok")
        return script.pop(0) if isinstance(script, list) else script

    def transport(self) -> GatewayTransport:
        mock = httpx2.MockTransport(self.handle)
        return GatewayTransport(URL, timeout=5, client_factory=lambda: httpx2.AsyncClient(transport=mock, base_url=URL))

    async def handle(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        targets = json.loads(request.headers["x-portkey-config"])["targets"]
        self.requests.append({"body": body, "models": [t["override_params"]["model"] for t in targets],
                              "request_timeouts": [t.get("request_timeout") for t in targets],
                              "body_timeout_ms": request.headers.get("x-sophia-body-timeout-ms")})
        if request.url.path.endswith("/embeddings"):
            return await self._embeddings(body, targets[0])
        attempts: list[dict] = []
        status = 500
        for index, target in enumerate(targets):
            model = target["override_params"]["model"]
            outcome = self._next(model)
            entry = {"o": _origin(target.get("custom_host", "")), "m": model}
            if isinstance(outcome, int):
                attempts.append({**entry, "s": outcome})
                status = outcome
                continue
            if outcome == "hang":
                await asyncio.Event().wait()
            attempts.append({**entry, "s": 200, **({"e": "stalled"} if outcome == "stalled" else {})})
            headers = {"x-sophia-attempts": json.dumps(attempts)}
            if outcome in ("malformed", "stalled"):
                return httpx2.Response(500, json={"status": "failure", "message": "Something went wrong"},
                                       headers={**headers, "x-portkey-gateway-exception": "true"})
            headers["x-portkey-last-used-option-index"] = f"config.targets[{index}]"
            if body.get("stream"):
                return self._stream(model, outcome, headers)
            answer = {"id": "x", "object": "chat.completion", "model": model,
                      "choices": [{"index": 0, "message": {"role": "assistant", "content": f"answer from {model}"},
                                   "finish_reason": "stop"}],
                      "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}
            return httpx2.Response(200, json=answer, headers=headers)
        headers = {"x-sophia-attempts": json.dumps(attempts), "retry-after": "7",
                   "x-portkey-last-used-option-index": f"config.targets[{len(targets) - 1}]"}
        error = {"error": {"message": f"upstream said {status} (key sk-abcdef0123456789 rejected)"}}
        return httpx2.Response(status, json=error, headers=headers)

    async def _embeddings(self, body: dict, target: dict) -> httpx2.Response:
        await asyncio.sleep(self.embedding_latency)  # the provider's latency, not a synchronisation
        model = target["override_params"]["model"]
        attempts = [{"o": _origin(target.get("custom_host", "")), "m": model, "s": 200}]
        data = [{"object": "embedding", "index": i, "embedding": [float(i), 1.0]} for i in range(len(body["input"]))]
        return httpx2.Response(200, json={"object": "list", "data": data, "model": model,
                                          "usage": {"prompt_tokens": len(data), "total_tokens": len(data)}},
                               headers={"x-sophia-attempts": json.dumps(attempts),
                                        "x-portkey-last-used-option-index": "config.targets[0]"})

    def _stream(self, model: str, outcome: str, headers: dict[str, str]) -> httpx2.Response:
        headers = {**headers, "content-type": "text/event-stream"}
        role, hello, world = _chunk(model, role=True), _chunk(model, "Hello"), _chunk(model, " world")
        if outcome == "cut_before":
            return httpx2.Response(200, content=_sse(role), headers=headers)
        if outcome == "cut_after":
            return httpx2.Response(200, content=_sse(role, hello), headers=headers)
        if outcome == "drop":
            return httpx2.Response(200, stream=_Dropped(_sse(role)), headers=headers)
        if outcome == "stall_before":
            return httpx2.Response(200, stream=_Stalled(_sse(role)), headers=headers)
        if outcome == "stall_after":
            return httpx2.Response(200, stream=_Stalled(_sse(role, hello)), headers=headers)
        return httpx2.Response(200, content=_sse(role, hello, world, _chunk(model, finish="stop"), "[DONE]"),
                               headers=headers)
