"""Results: OpenAI-compatible shapes plus the routing facts of how each answer was produced.

``response.choices[0].message.content`` works as with the OpenAI SDK; ``response.routing`` tells
which provider and model served, whether a fallback happened, every attempt, latency, usage and the
trace id. Unknown provider fields (Perplexity's ``citations``, for one) are kept, not dropped.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CacheStatus = Literal["hit", "semantic_hit"] | None


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Usage(_Open):
    """Token counts of a call, as the provider reported them (zeros when it did not)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class Attempt(BaseModel):
    """One upstream call the gateway made for a request (retries count as separate attempts)."""

    provider: str
    model: str
    status: int | None = None
    """HTTP status the provider answered; None when no answer came (see ``error``) or unknown."""
    error: str | None = None
    """Why no answer came (connection refused, timeout...), or None."""

    @property
    def ok(self) -> bool:
        """True when the provider answered with a 2xx status."""
        return self.status is not None and 200 <= self.status < 300

    def describe(self) -> str:
        """``provider/model: outcome`` (the status, or why no answer came), for messages and logs."""
        outcome = str(self.status) if self.status is not None else (self.error or "failed")
        return f"{self.provider}/{self.model}: {outcome}"


def summarize_attempts(attempts: list[Attempt]) -> str:
    """``openai/gpt-4o: 503 x4 -> anthropic/claude-sonnet-4-5: 200``: repeats (retries) folded."""
    parts: list[tuple[str, int]] = []
    for attempt in attempts:
        text = attempt.describe()
        if parts and parts[-1][0] == text:
            parts[-1] = (text, parts[-1][1] + 1)
        else:
            parts.append((text, 1))
    return " -> ".join(f"{text} x{n}" if n > 1 else text for text, n in parts)


class RoutingInfo(BaseModel):
    """How an answer was produced: who served it, what was tried first, how long it took, what it used."""

    provider: str
    model: str
    fallback_used: bool
    attempts: list[Attempt]
    latency_ms: float
    usage: Usage = Field(default_factory=Usage)
    trace_id: str
    served_index: int = 0
    cached: CacheStatus = None
    circuit_open: list[str] = Field(default_factory=list)
    """Targets (``provider/model``) tried last, or not at all, because their circuit was open."""
    route: str | None = None
    """The routing policy's route the call asked for (``route="support_ab"``); None for other calls."""
    variant: str | None = None
    """The loadbalance variant that served (an A/B test's arm); None when no loadbalance was involved."""
    complexity: str | None = None
    """``simple`` or ``complex`` when a complexity strategy (or a rule on it) classified the request."""


class Message(_Open):
    """An assistant message of a completion; ``content`` is None when the model only called tools."""

    role: str = "assistant"
    content: str | None = None


class Choice(_Open):
    """One alternative answer of a completion (``n`` > 1 asks for several)."""

    index: int = 0
    message: Message
    finish_reason: str | None = None


class ChatCompletion(_Open):
    """OpenAI's ``chat.completion`` object, plus the routing facts under ``routing``."""

    id: str = ""
    object: str = "chat.completion"
    created: int = 0
    model: str = ""
    choices: list[Choice]
    usage: Usage | None = None
    routing: RoutingInfo = Field(default=None, exclude=True)  # type: ignore[assignment]
    """How the answer was produced; set on every answer the manager returns."""

    @property
    def content(self) -> str:
        """The first choice's text; an empty string when there is none."""
        return self.choices[0].message.content or "" if self.choices else ""


class Delta(_Open):
    """What one stream chunk adds to a choice's message."""

    role: str | None = None
    content: str | None = None


class ChunkChoice(_Open):
    """One choice's part of a stream chunk; ``finish_reason`` is set on its last chunk."""

    index: int = 0
    delta: Delta = Field(default_factory=Delta)
    finish_reason: str | None = None


class ChatCompletionChunk(_Open):
    """OpenAI's ``chat.completion.chunk`` object: one piece of a streamed answer."""

    id: str = ""
    object: str = "chat.completion.chunk"
    created: int = 0
    model: str = ""
    choices: list[ChunkChoice] = Field(default_factory=list)
    usage: Usage | None = None

    @property
    def text(self) -> str:
        """The text this chunk adds, over all its choices."""
        return "".join(c.delta.content or "" for c in self.choices)


class Embedding(_Open):
    """One input's vector; ``index`` is the input's position in the request."""

    object: str = "embedding"
    index: int
    embedding: list[float]


class EmbeddingResponse(_Open):
    """OpenAI's embeddings list, plus the routing facts under ``routing``."""

    object: str = "list"
    data: list[Embedding]
    model: str = ""
    usage: Usage | None = None
    routing: RoutingInfo = Field(default=None, exclude=True)  # type: ignore[assignment]
    """How the answer was produced; set on every answer the manager returns."""

    @property
    def vectors(self) -> list[list[float]]:
        """The vectors in input order (whatever order ``data`` came in)."""
        return [d.embedding for d in sorted(self.data, key=lambda d: d.index)]


def as_json(model: BaseModel) -> bytes:
    """``as_dict`` as JSON, serialised by pydantic in one pass (no dict built, no ``json.dumps``)."""
    body = model.model_dump_json(exclude_none=True)
    routing = getattr(model, "routing", None)
    if routing is not None:
        joint = "," if body != "{}" else ""
        body = f'{body[:-1]}{joint}"routing":{routing.model_dump_json()}}}'
    return body.encode()


def as_dict(model: BaseModel) -> dict[str, Any]:
    """The OpenAI-shaped JSON of a result, routing facts included under ``routing``."""
    out = model.model_dump(exclude_none=True)
    routing = getattr(model, "routing", None)
    if routing is not None:
        out["routing"] = routing.model_dump()
    return out
