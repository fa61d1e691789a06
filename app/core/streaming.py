"""Streams whose failover is finished on the client side.

The open-source gateway never falls back once a stream has started (gateway#1797). A stream that
breaks before its first content chunk reaches the caller is resumed on the chain's remaining
targets, so the caller sees one clean stream; one that breaks after content was delivered raises
``StreamInterruptedError`` with the partial text. Two answers are never spliced together.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from contextlib import aclosing
from typing import TYPE_CHECKING

from app.core.errors import GatewayConnectionError
from app.core.results import ChatCompletionChunk, RoutingInfo

if TYPE_CHECKING:
    from app.core.deadlines import StreamPace
    from app.core.sync_bridge import SyncBridge
    from app.core.transport import Response, Transport


class StreamBroken(Exception):
    """Internal: the upstream stream ended without finishing; ``reason`` says how."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def read_chunks(transport: Transport, response: Response, pace: StreamPace
                      ) -> AsyncIterator[ChatCompletionChunk]:
    """Chunks of one gateway stream; raises StreamBroken unless the stream really finished, or when it
    stays silent longer than ``pace`` allows (before its first content, or between events)."""
    finished = False
    try:
        async with aclosing(transport.events(response, pace.deadlines.idle)) as events:
            async for data in _paced(events, pace):
                if data == "[DONE]":
                    break  # the end marker alone does not prove a finish: the check below decides
                try:
                    chunk = ChatCompletionChunk.model_validate_json(data)
                except ValueError:
                    raise StreamBroken("malformed chunk") from None
                error = (chunk.model_extra or {}).get("error")
                if error:
                    message = error.get("message", error) if isinstance(error, dict) else error
                    raise StreamBroken(f"error event: {message}")
                if any(c.finish_reason for c in chunk.choices):
                    finished = True
                pace.saw(chunk)
                yield chunk
    except GatewayConnectionError as exc:
        raise StreamBroken(f"connection lost ({exc.reason})") from None
    except ValueError as exc:  # not an event stream at all
        raise StreamBroken(f"malformed stream ({exc})") from None
    if not finished:
        raise StreamBroken("stream ended before it finished")


async def _paced(events: AsyncIterator[str], pace: StreamPace) -> AsyncIterator[str]:
    iterator = aiter(events)
    while True:
        try:
            async with asyncio.timeout(pace.wait()):
                data = await anext(iterator)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise StreamBroken(pace.missed()) from None
        yield data


class CompletionStream:
    """An async iterator of chunks; ``routing`` is filled in once the stream has finished."""

    def __init__(self, source: Callable[[CompletionStream], AsyncIterator[ChatCompletionChunk]]) -> None:
        self.routing: RoutingInfo | None = None
        self.text = ""
        self._chunks = source(self)

    def __aiter__(self) -> CompletionStream:
        return self

    async def __anext__(self) -> ChatCompletionChunk:
        chunk = await self._chunks.__anext__()
        self.text += chunk.text
        return chunk

    async def aclose(self) -> None:
        """Stop the stream early; its connection is released and observers see it closed."""
        await self._chunks.aclose()  # type: ignore[attr-defined]


class SyncCompletionStream:
    """The sync twin of CompletionStream, driven through the sync bridge."""

    def __init__(self, stream: CompletionStream, bridge: SyncBridge) -> None:
        self._stream = stream
        self._iter: Generator[ChatCompletionChunk, None, None] = bridge.iterate(stream)

    def __iter__(self) -> Iterator[ChatCompletionChunk]:
        return self._iter

    def __next__(self) -> ChatCompletionChunk:
        return next(self._iter)

    @property
    def routing(self) -> RoutingInfo | None:
        """The routing facts; None until the stream has been read to the end."""
        return self._stream.routing

    @property
    def text(self) -> str:
        """The text received so far."""
        return self._stream.text

    def close(self) -> None:
        """Stop the stream early and release its connection."""
        self._iter.close()
