"""The ASGI app serving one simulated provider under ``/<name>/v1``.

Written against raw ASGI rather than a router: the simulators sit inside latency
benchmarks, and the fault modes need exact control over which bytes reach the wire.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from . import anthropic_format, entropy, openai_format
from .answers import compose, last_user_text, prompt_tokens
from .embeddings import embeddings_response, normalise_inputs
from .faults import STALL_LIMIT, Fault, FaultSlot
from .openai_format import dumps
from .provider_options import PromptCache, Search, marker_problem, read_search
from .providers import ProviderSpec
from .stats import ProviderStats

_JSON = (b"content-type", b"application/json")
_SSE = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]
_INVALID = object()
_DISCONNECT_WAIT = 2.0


class _ClientGone(Exception):
    pass


@dataclass(slots=True)
class Reply:
    """A response not yet on the wire, so fault modes can decide how much of it to send."""

    status: int
    body: bytes = b""
    events: list[bytes] | None = None  # SSE events, when streaming
    cut_after: int = 1  # events sent before the connection dies under cut_after_first_chunk
    preamble: list[bytes] = field(default_factory=list)  # events a stream sends before any content
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


@dataclass(slots=True)
class Request:
    """One request as a handler sees it; ``path`` is relative to the provider's prefix."""

    method: str
    path: str  # relative to the provider prefix
    headers: dict[str, str]
    payload: Any  # parsed JSON body, None when empty, _INVALID when unparseable

    @property
    def streaming(self) -> bool:
        """True when the JSON body asks for a stream."""
        return isinstance(self.payload, dict) and self.payload.get("stream") is True


Handler = Callable[[Request], Awaitable[Reply]]


class ProviderApp:
    """The ASGI app of one simulated provider: its endpoints, its faults and its stats."""

    def __init__(self, spec: ProviderSpec, slot: FaultSlot, stats: ProviderStats, stable_ids: bool = False) -> None:
        self.spec = spec
        self.stable_ids = stable_ids
        self.name = spec.name
        self.slot = slot
        self.stats = stats
        self.transport_for: Callable[[dict], asyncio.Transport | None] = lambda scope: None
        self._prefix = spec.prefix
        self._anthropic = spec.wire == "anthropic"
        self.prompt_cache = PromptCache()
        routes: dict[tuple[str, str], Handler] = {("GET", "/models"): self._models}
        if self._anthropic:
            routes[("POST", "/messages")] = self._messages
        else:
            routes[("POST", "/chat/completions")] = self._chat
            if spec.has_embeddings:
                routes[("POST", "/embeddings")] = self._embeddings
        self._routes = routes

    # ------------------------------------------------------------ ASGI entry

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        """Serve one HTTP request, applying the provider's current fault to POST endpoints."""
        if scope["type"] != "http":
            return
        try:
            body = await _read_body(receive)
        except _ClientGone:
            return
        self.stats.in_flight += 1  # until the answer is sent or the client has gone
        try:
            await self._serve(scope, receive, send, body)
        finally:
            self.stats.in_flight -= 1

    async def _serve(self, scope: dict, receive: Callable, send: Callable, body: bytes) -> None:
        req = self._request(scope, body)
        handler = self._routes.get((req.method, req.path))
        if handler is None:
            await self._send(send, self._error(404, f"Invalid URL ({req.method} {scope['path']})"))
            return

        fault = self.slot.take() if req.method == "POST" else None
        if fault is not None and await self._answered_by_fault(fault, req, scope, receive, send):
            return

        if self.stable_ids and isinstance(req.payload, dict):
            payload = req.payload
            with entropy.seeded(self.name, str(payload.get("model")), last_user_text(payload.get("messages"))):
                reply = await handler(req)
        else:
            reply = await handler(req)
        mode = fault.mode if fault is not None else None
        if mode in ("cut_before_first_chunk", "cut_after_first_chunk"):
            await self._send_cut(scope, receive, send, reply, mode)
        elif mode in ("stall_before_content", "stall_mid_body"):
            await self._send_stalled(scope, receive, send, reply, mid_body=mode == "stall_mid_body")
        else:
            await self._send(send, reply)

    async def _answered_by_fault(self, fault: Fault, req: Request, scope: dict, receive: Callable,
                                 send: Callable) -> bool:
        """Apply the part of ``fault`` that comes before the answer; True when nothing more is to be sent."""
        if fault.latency_ms:
            await asyncio.sleep(fault.latency_ms / 1000)
        if fault.mode in ("refuse", "drop"):
            # "refuse" only gets here on a connection opened before the port was closed.
            await self._hang_up(scope, receive)
        elif fault.status is not None:
            await self._send(send, self._fault_error(fault))
        elif fault.mode == "malformed":
            await self._send(send, self._malformed(req.streaming))
        elif fault.mode == "stall_headers":
            await self._stall(scope, receive)
        else:
            return False
        return True

    def _request(self, scope: dict, body: bytes) -> Request:
        """The request as the handlers see it (path below the provider's prefix), counted in the stats."""
        sub = scope["path"].removeprefix(self._prefix) or "/"
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            headers[raw_name.decode("latin-1").lower()] = raw_value.decode("latin-1")
        payload: Any = None
        if body:
            try:
                payload = json.loads(body)
            except ValueError:
                payload = _INVALID
        self.stats.record(sub, list(headers), None if payload is _INVALID else payload)
        return Request(scope["method"], sub, headers, payload)

    # ------------------------------------------------------------ wire helpers

    async def _send(self, send: Callable, reply: Reply) -> None:
        if reply.events is None:
            headers = [_JSON, (b"content-length", str(len(reply.body)).encode()), *reply.headers]
            await send({"type": "http.response.start", "status": reply.status, "headers": headers})
            await send({"type": "http.response.body", "body": reply.body})
            return
        await send(
            {"type": "http.response.start", "status": reply.status, "headers": [*_SSE, *reply.headers]}
        )
        for event in reply.events:
            await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def _send_cut(
        self, scope: dict, receive: Callable, send: Callable, reply: Reply, mode: str
    ) -> None:
        after = mode == "cut_after_first_chunk"
        if reply.events is None:
            # Content-Length promises the whole body so the client is left waiting for the rest.
            headers = [_JSON, (b"content-length", str(len(reply.body)).encode()), *reply.headers]
            await send({"type": "http.response.start", "status": reply.status, "headers": headers})
            if after:
                half = reply.body[: max(1, len(reply.body) // 2)]
                await send({"type": "http.response.body", "body": half, "more_body": True})
        else:
            await send(
                {"type": "http.response.start", "status": reply.status, "headers": [*_SSE, *reply.headers]}
            )
            if after:
                for event in reply.events[: reply.cut_after]:
                    await send({"type": "http.response.body", "body": event, "more_body": True})
        await self._hang_up(scope, receive)

    async def _send_stalled(self, scope: dict, receive: Callable, send: Callable, reply: Reply,
                            mid_body: bool) -> None:
        """The 200 headers and the start of the answer, then silence on an open connection."""
        if reply.events is None:
            headers = [_JSON, (b"content-length", str(len(reply.body)).encode()), *reply.headers]
            await send({"type": "http.response.start", "status": reply.status, "headers": headers})
            if mid_body:
                half = reply.body[: max(1, len(reply.body) // 2)]
                await send({"type": "http.response.body", "body": half, "more_body": True})
        else:
            await send(
                {"type": "http.response.start", "status": reply.status, "headers": [*_SSE, *reply.headers]}
            )
            sent = reply.events[: reply.cut_after] if mid_body else reply.preamble
            for event in sent:
                await send({"type": "http.response.body", "body": event, "more_body": True})
        await self._stall(scope, receive)

    async def _stall(self, scope: dict, receive: Callable) -> None:
        """Say nothing more until the client gives up (or ``STALL_LIMIT``), then hang up."""
        try:
            async with asyncio.timeout(STALL_LIMIT):
                while (await receive())["type"] != "http.disconnect":
                    pass
        except TimeoutError:
            pass
        except asyncio.CancelledError:
            return  # the server is shutting the connection down itself: the stall is over
        await self._hang_up(scope, receive)

    async def _hang_up(self, scope: dict, receive: Callable) -> None:
        """Close the TCP connection with whatever was written so far, and nothing more."""
        transport = self.transport_for(scope)
        if transport is None:
            return
        transport.close()
        # Returning before uvicorn notices the disconnect would make it write a 500 of its own.
        try:
            async with asyncio.timeout(_DISCONNECT_WAIT):
                while (await receive())["type"] != "http.disconnect":
                    pass
        except TimeoutError:
            pass

    def _json(self, status: int, obj: Any, headers: list[tuple[bytes, bytes]] | None = None) -> Reply:
        return Reply(status, dumps(obj), headers=headers or [])

    def _error(self, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> Reply:
        if self._anthropic:
            return self._json(status, anthropic_format.error_body(status, message), headers)
        return self._json(status, openai_format.error_body(self.name, status, message), headers)

    def _fault_error(self, fault: Fault) -> Reply:
        status = fault.status or 500
        headers: list[tuple[bytes, bytes]] = []
        if fault.retry_after is not None:
            headers.append((b"retry-after", str(math.ceil(fault.retry_after)).encode()))
            if not self._anthropic:
                # The OpenAI SDK prefers the millisecond variant when present.
                headers.append((b"retry-after-ms", str(int(fault.retry_after * 1000)).encode()))
        return self._error(status, f"Simulated fault: HTTP {status} from {self.name}", headers)

    def _malformed(self, streaming: bool) -> Reply:
        fmt = anthropic_format if self._anthropic else openai_format
        if streaming:
            return Reply(200, events=fmt.malformed_stream(self.name))
        return Reply(200, fmt.MALFORMED_JSON)

    # ------------------------------------------------------------ auth

    def _auth_error(self, req: Request) -> Reply | None:
        if self._anthropic:
            key = req.headers.get("x-api-key", "").strip()
            if not key:
                return self._error(401, "x-api-key header is required")
            if not req.headers.get("anthropic-version", "").strip():
                return self._error(400, "anthropic-version: header is required")
        else:
            scheme, _, key = req.headers.get("authorization", "").partition(" ")
            key = key.strip()
            if scheme.lower() != "bearer" or not key:
                return self._error(401, openai_format.missing_key_message(self.name))
        if not self.stats.used_key(key):
            return self._error(401, "Incorrect API key provided: this key was revoked.")
        return None

    def _body_error(self, req: Request, *required: str) -> Reply | None:
        if req.payload is _INVALID:
            return self._error(400, "We could not parse the JSON body of your request.")
        if not isinstance(req.payload, dict):
            return self._error(400, "Request body must be a JSON object.")
        for name in required:
            if req.payload.get(name) in (None, "", []):
                return self._error(400, f"{name}: Field required")
        return None

    # ------------------------------------------------------------ routes

    async def _models(self, req: Request) -> Reply:
        if (err := self._auth_error(req)) is not None:
            return err
        if self._anthropic:
            return self._json(200, anthropic_format.models_list(self.spec.models))
        return self._json(200, openai_format.models_list(self.name, self.spec.models))

    async def _chat(self, req: Request) -> Reply:
        if (err := self._auth_error(req) or self._body_error(req, "model", "messages")) is not None:
            return err
        p = req.payload
        model = str(p["model"])
        messages = p["messages"]
        if not isinstance(messages, list):
            return self._error(400, "messages: Input should be a valid list")
        if (problem := marker_problem(messages)) is not None:
            return self._error(400, problem)
        search = read_search(p) if self.spec.searches else Search()
        if isinstance(search, str):
            return self._error(400, search)
        max_tokens = p.get("max_completion_tokens", p.get("max_tokens"))
        answer = compose(self.name, model, messages, max_tokens)
        prompt = prompt_tokens(messages)
        query = last_user_text(messages)
        if req.streaming:
            opts = p.get("stream_options")
            include_usage = isinstance(opts, dict) and opts.get("include_usage") is True
            events = openai_format.stream_events(self.name, model, answer, prompt, query, include_usage, search)
            return Reply(
                200, events=events, headers=[(b"x-request-id", openai_format.new_id(self.name).encode())],
                preamble=[openai_format.role_event(self.name, model)],
            )
        body = openai_format.chat_completion(self.name, model, answer, prompt, query, search)
        return self._json(200, body, [(b"x-request-id", body["id"].encode())])

    async def _messages(self, req: Request) -> Reply:
        if (err := self._auth_error(req) or self._body_error(req, "model", "messages")) is not None:
            return err
        p = req.payload
        max_tokens = p.get("max_tokens")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            return self._error(400, "max_tokens: Field required (integer >= 1)")
        if not isinstance(p["messages"], list):
            return self._error(400, "messages: Input should be a valid list")
        model = str(p["model"])
        answer = compose(self.name, model, p["messages"], max_tokens)
        cache = self.prompt_cache.account(model, p.get("system"), p["messages"])
        if isinstance(cache, str):
            return self._error(400, cache)
        headers = [(b"request-id", anthropic_format.new_request_id().encode())]
        if req.streaming:
            events, first_delta = anthropic_format.stream_events(model, answer, cache)
            return Reply(200, events=events, cut_after=first_delta + 1, headers=headers,
                         preamble=events[:first_delta])
        return self._json(200, anthropic_format.message(model, answer, cache), headers)

    async def _embeddings(self, req: Request) -> Reply:
        if (err := self._auth_error(req) or self._body_error(req, "model", "input")) is not None:
            return err
        p = req.payload
        inputs = normalise_inputs(p["input"])
        if inputs is None:
            return self._error(400, "input: must be a string or a non-empty list of strings")
        body = embeddings_response(str(p["model"]), inputs, p.get("dimensions"), p.get("encoding_format"))
        if self.name == "mistral":
            body["id"] = openai_format.new_id(self.name)
        return self._json(200, body)


async def _read_body(receive: Callable) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _ClientGone
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
