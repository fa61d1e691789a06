"""One round trip to the gateway for each kind of call: what is sent, and how the answer is read.

A round sends the chain it is given as one Portkey config, reads which targets were tried from
the response headers (``app.core.attempts``) into the call, and either yields what reaches the
caller, raises ``TargetFailed`` for a failure the gateway could not fail over (the failover loop
then goes on), or raises the error the answer calls for. A round never outlives the call's
deadline, and enforces the per-attempt deadlines the gateway cannot (``app.core.deadlines``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from app.core.attempts import read_attempts
from app.core.deadlines import StreamPace
from app.core.errors import StreamInterruptedError
from app.core.failover import Call, TargetFailed
from app.core.failures import exhausted, failure_from_response
from app.core.redaction import redact
from app.core.results import Attempt, ChatCompletion, ChatCompletionChunk, EmbeddingResponse, Usage
from app.core.routing import Chain, Router
from app.core.streaming import StreamBroken, read_chunks
from app.core.transport import Response, Transport


class GatewayRounds:
    """Sends rounds through ``transport``; ``router`` compiles each chain into its Portkey config."""

    def __init__(self, transport: Transport, router: Router, *, secrets: Sequence[str] = ()) -> None:
        self.transport = transport
        self.router = router
        self.secrets = list(secrets)

    def headers(self, chain: Chain, call: Call, body: Mapping[str, Any] | None = None) -> dict[str, str]:
        """The gateway headers of one round: the chain's Portkey config (each target's ``request_timeout``
        is the headers deadline), the plain body's deadline for our preload, the trace id and the metadata."""
        deadlines = call.deadlines
        headers = {"x-portkey-config": self.router.portkey_config(chain, body,
                                                                 timeout_ms=int(deadlines.headers * 1000)),
                   "x-portkey-trace-id": call.trace_id,
                   "x-sophia-body-timeout-ms": str(int(deadlines.first_content * 1000))}
        metadata = {k: str(v) for k, v in (call.metadata or {}).items() if k not in PRIVATE_METADATA}
        if metadata:
            headers["x-portkey-metadata"] = json.dumps(metadata)
        return headers

    def _read(self, response: Response, chain: Chain, call: Call) -> tuple[list[Attempt], int]:
        attempts, index = read_attempts(response.headers, chain, response.status_code)
        call.attempts.extend(attempts)
        call.reached = chain.position(index)
        return attempts, index

    async def chat(self, call: Call, body: dict[str, Any], remaining: Chain) -> AsyncGenerator[ChatCompletion, None]:
        """A plain completion: yields the one answer."""
        body["model"] = remaining.primary.model
        response = await self.transport.post("/chat/completions", json.dumps(body).encode(),
                                             self.headers(remaining, call, body), call.remaining)
        attempts, index = self._read(response, remaining, call)
        if not response.is_success and not _unreadable_answer(response, attempts):
            raise failure_from_response(response, call.chain, call.attempts, call.trace_id, self.secrets)
        try:
            completion = ChatCompletion.model_validate_json(response.content) if response.is_success else None
        except ValidationError:
            completion = None
        if completion is None:
            # The provider said 200 but its body could not be read, or did not arrive in time (the
            # gateway then answers 500 "Something went wrong" and stops its fallback loop).
            raise TargetFailed(index, _unreadable_reason(attempts, call))
        completion.routing = call.served = call.routing(remaining.position(index), completion.usage)
        yield completion

    async def stream(self, call: Call, body: dict[str, Any], remaining: Chain
                     ) -> AsyncGenerator[ChatCompletionChunk, None]:
        """A streamed completion: yields its chunks, holding those before the first content back so
        that a break before any content can still go on with the next target unseen by the caller."""
        body["model"] = remaining.primary.model
        async with self.transport.stream("/chat/completions", json.dumps(body).encode(),
                                         self.headers(remaining, call, body), call.remaining) as response:
            _, index = self._read(response, remaining, call)
            if not response.is_success:
                await response.aread()
                raise failure_from_response(response, call.chain, call.attempts, call.trace_id, self.secrets)
            served = remaining.targets[index]
            held: list[ChatCompletionChunk] = []
            delivered = ""
            usage: Usage | None = None
            pace = StreamPace(call.deadlines, call.expires_at)
            try:
                async for chunk in read_chunks(self.transport, response, pace):
                    usage = chunk.usage or usage
                    if not delivered and not chunk.text:
                        held.append(chunk)
                        continue
                    for early in held:
                        yield early
                    held.clear()
                    delivered += chunk.text
                    yield chunk
            except StreamBroken as broken:
                reason = redact(broken.reason, self.secrets)  # provider text, may echo a key
                if delivered:
                    call.fail_last(reason)
                    raise StreamInterruptedError(served.provider.name, delivered, reason, call.trace_id) from None
                raise TargetFailed(index, reason) from None
            for early in held:
                yield early
            call.served = call.routing(remaining.position(index), usage)

    async def embeddings(self, call: Call, texts: list[str]) -> tuple[EmbeddingResponse, list[Attempt]]:
        """One batch on the chain's one target (embeddings never fall back: see the manager)."""
        chain = call.chain
        body = {"model": chain.primary.model, "input": texts}
        response = await self.transport.post("/embeddings", json.dumps(body).encode(),
                                             self.headers(chain, call), call.remaining)
        attempts, _ = read_attempts(response.headers, chain, response.status_code)
        if not response.is_success:
            raise failure_from_response(response, chain, attempts, call.trace_id, self.secrets)
        try:
            return EmbeddingResponse.model_validate_json(response.content), attempts
        except ValidationError:
            raise exhausted(attempts, call.trace_id, "the embeddings answer was not valid") from None


PRIVATE_METADATA = frozenset({"api_token"})
"""Call metadata our layer uses (limits) that is never sent to the gateway."""


def _unreadable_reason(attempts: list[Attempt], call: Call) -> str:
    if attempts and attempts[-1].error == "stalled":  # our preload aborted a body that did not come in time
        return f"stalled: no complete answer within {call.deadlines.first_content:g} s"
    return "malformed response"


def _unreadable_answer(response: Response, attempts: list[Attempt]) -> bool:
    """True when the gateway crashed on a provider answer that itself was a success.

    The gateway then answers 500 "Something went wrong", flagged as a gateway exception or
    without naming a served target, and does not fall back.
    """
    crashed = (response.headers.get("x-portkey-gateway-exception") == "true"
               or "x-portkey-last-used-option-index" not in response.headers)
    return response.status_code >= 500 and crashed and bool(attempts) and attempts[-1].ok
