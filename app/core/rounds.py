"""One round trip to the gateway for each kind of call: what is sent, and how the answer is read.

A round sends the chain it is given as one Portkey config, reads which targets were tried from
the response headers (``app.core.attempts``) into the call, and either yields what reaches the
caller, raises ``TargetFailed`` for a failure the gateway could not fail over (the failover loop
then goes on), or raises the error the answer calls for.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from app.core.attempts import read_attempts
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

    def __init__(self, transport: Transport, router: Router, *, max_retries: int, request_timeout: float,
                 secrets: Sequence[str] = ()) -> None:
        self.transport = transport
        self.router = router
        self.max_retries = max_retries
        self.request_timeout = request_timeout
        self.secrets = list(secrets)

    def chain_timeout(self, chain: Chain) -> float:
        """Our deadline for one round: the gateway may spend, per target, every retry plus its 1, 2, 4 s back-offs."""
        retries = self.max_retries
        per_target = (retries + 1) * self.request_timeout + (2**retries - 1)
        return per_target * len(chain.targets) + 5.0

    def headers(self, chain: Chain, call: Call, body: Mapping[str, Any] | None = None) -> dict[str, str]:
        """The gateway headers of one round: the chain's Portkey config, the trace id and the metadata."""
        has_max_tokens = body is None or "max_tokens" in body or "max_completion_tokens" in body
        headers = {"x-portkey-config": self.router.portkey_config(chain, has_max_tokens=has_max_tokens),
                   "x-portkey-trace-id": call.trace_id}
        if call.metadata:
            headers["x-portkey-metadata"] = json.dumps({k: str(v) for k, v in call.metadata.items()})
        return headers

    def _read(self, response: Response, chain: Chain, call: Call) -> tuple[list[Attempt], int]:
        attempts, index = read_attempts(response.headers, chain, response.status_code)
        call.attempts.extend(attempts)
        return attempts, index

    async def chat(self, call: Call, body: dict[str, Any], remaining: Chain,
                   offset: int) -> AsyncGenerator[ChatCompletion, None]:
        """A plain completion: yields the one answer."""
        body["model"] = remaining.primary.model
        response = await self.transport.post("/chat/completions", json.dumps(body).encode(),
                                             self.headers(remaining, call, body), self.chain_timeout(remaining))
        attempts, index = self._read(response, remaining, call)
        if not response.is_success and not _unreadable_answer(response, attempts):
            raise failure_from_response(response, call.chain, call.attempts, call.trace_id, self.secrets)
        try:
            completion = ChatCompletion.model_validate_json(response.content) if response.is_success else None
        except ValidationError:
            completion = None
        if completion is None:
            # The provider said 200 but its body could not be read (the gateway then answers 500
            # "Something went wrong" and stops its fallback loop).
            raise TargetFailed(index, "malformed response")
        completion.routing = call.served = call.routing(remaining.targets[index], offset + index, completion.usage)
        yield completion

    async def stream(self, call: Call, body: dict[str, Any], remaining: Chain,
                     offset: int) -> AsyncGenerator[ChatCompletionChunk, None]:
        """A streamed completion: yields its chunks, holding those before the first content back so
        that a break before any content can still go on with the next target unseen by the caller."""
        body["model"] = remaining.primary.model
        timeout = self.chain_timeout(remaining)
        async with self.transport.stream("/chat/completions", json.dumps(body).encode(),
                                         self.headers(remaining, call, body), timeout) as response:
            _, index = self._read(response, remaining, call)
            if not response.is_success:
                await response.aread()
                raise failure_from_response(response, call.chain, call.attempts, call.trace_id, self.secrets)
            served = remaining.targets[index]
            held: list[ChatCompletionChunk] = []
            delivered = ""
            usage: Usage | None = None
            try:
                async for chunk in read_chunks(self.transport, response, timeout):
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
            call.served = call.routing(served, offset + index, usage)

    async def embeddings(self, call: Call, texts: list[str]) -> tuple[EmbeddingResponse, list[Attempt]]:
        """One batch on the chain's one target (embeddings never fall back: see the manager)."""
        chain = call.chain
        body = {"model": chain.primary.model, "input": texts}
        response = await self.transport.post("/embeddings", json.dumps(body).encode(),
                                             self.headers(chain, call), self.chain_timeout(chain))
        attempts, _ = read_attempts(response.headers, chain, response.status_code)
        if not response.is_success:
            raise failure_from_response(response, chain, attempts, call.trace_id, self.secrets)
        try:
            return EmbeddingResponse.model_validate_json(response.content), attempts
        except ValidationError:
            raise exhausted(attempts, call.trace_id, "the embeddings answer was not valid") from None


def _unreadable_answer(response: Response, attempts: list[Attempt]) -> bool:
    """True when the gateway crashed on a provider answer that itself was a success.

    The gateway then answers 500 "Something went wrong", flagged as a gateway exception or
    without naming a served target, and does not fall back.
    """
    crashed = (response.headers.get("x-portkey-gateway-exception") == "true"
               or "x-portkey-last-used-option-index" not in response.headers)
    return response.status_code >= 500 and crashed and bool(attempts) and attempts[-1].ok
