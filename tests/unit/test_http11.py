"""The lean HTTP/1.1 pool under httpx2 (app.core.http11), against a scripted server on loopback.

The server is a few lines of asyncio that answer each request with the bytes a test gives it, so
every case the gateway could produce is shown on the wire: keep-alive, chunked bodies, gzip, a
connection closed while idle, an answer cut short, a malformed answer, a refused connection.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx2
import pytest

from app.core.errors import GatewayUnavailableError
from app.core.http11 import Http11Pool
from app.core.transport import GatewayTransport, translated_errors

Answer = Callable[[bytes], bytes | None]
"""Request bytes -> the raw answer (None: close the connection without answering; ``Closing``: close after it)."""


class Closing(bytes):
    """An answer after which the server closes the connection."""


def ok(body: bytes = b'{"ok":true}', *extra: bytes) -> bytes:
    head = [b"HTTP/1.1 200 OK", b"content-type: application/json", b"content-length: %d" % len(body), *extra]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class Server:
    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.connections = 0
        self.requests: list[bytes] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                answer = self.answer(request)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if isinstance(answer, Closing):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


@asynccontextmanager
async def serving(answer: Answer) -> AsyncIterator[tuple[Server, httpx2.AsyncClient]]:
    server = Server(answer)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", transport=Http11Pool()) as client:
        try:
            yield server, client
        finally:
            listener.close()
            for writer in server.writers:
                writer.close()


async def test_one_connection_serves_requests_one_after_another_and_the_request_is_sent_whole():
    async with serving(lambda request: ok()) as (server, client):
        for _ in range(3):
            response = await client.post("/v1/chat/completions", content=b'{"a":1}', headers={"x-test": "yes"})
            assert response.status_code == 200 and response.json() == {"ok": True}
        assert server.connections == 1
        request = server.requests[0]
        assert request.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
        assert b"\r\nx-test: yes\r\n" in request and request.endswith(b'\r\n\r\n{"a":1}')


async def test_chunked_and_gzip_bodies_are_decoded_as_httpx2_does():
    chunked = (b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    zipped = gzip.compress(b'{"zipped":true}')
    answers = iter([chunked, ok(zipped, b"content-encoding: gzip")])
    async with serving(lambda request: next(answers)) as (server, client):
        assert (await client.get("/")).text == "hello world"
        assert (await client.get("/")).json() == {"zipped": True}
        assert server.connections == 1


async def test_a_stream_read_as_it_comes_and_closed_early_is_not_reused():
    events = [b"data: %d\n\n" % i for i in range(5)]
    stream = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
              + b"".join(b"%x\r\n%s\r\n" % (len(event), event) for event in events) + b"0\r\n\r\n")
    async with serving(lambda request: stream) as (server, client):
        async with client.stream("POST", "/", content=b"{}") as response:
            data = [event.data async for event in httpx2.EventSource(response)]
        assert data == ["0", "1", "2", "3", "4"]
        async with client.stream("POST", "/", content=b"{}") as response:
            async for _ in response.aiter_bytes():
                break  # stopped before the end: that connection's next bytes are unknown
        await client.post("/", content=b"{}")
        assert server.connections == 2


async def test_a_connection_the_server_closed_while_idle_is_replaced_not_reported():
    async with serving(lambda request: ok(b"{}", b"connection: keep-alive")) as (server, client):
        await client.post("/", content=b"{}")
        for writer in server.writers:
            writer.close()
            await writer.wait_closed()
        pool = client._transport  # the Http11Pool under test
        async with asyncio.timeout(5):  # until the loop has delivered the close to the idle connection
            while not all(c.closed for idle in pool._idle.values() for c in idle):
                await asyncio.sleep(0.001)
        assert (await client.post("/", content=b"{}")).status_code == 200
        assert server.connections == 2


async def test_connection_close_from_the_server_is_honoured():
    async with serving(lambda request: ok(b"{}", b"connection: close")) as (server, client):
        await client.post("/", content=b"{}")
        await client.post("/", content=b"{}")
        assert server.connections == 2


async def test_idle_connections_expire_before_the_gateway_would_close_them():
    server = Server(lambda request: ok())
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                  transport=Http11Pool(keepalive_expiry=0)) as client:
        await client.post("/", content=b"{}")
        await client.post("/", content=b"{}")
    listener.close()
    assert server.connections == 2


@pytest.mark.parametrize("answer, error", [
    (lambda request: None, httpx2.ReadError),  # closed without an answer
    (lambda request: Closing(ok(b"x" * 100)[:-50]), httpx2.ReadError),  # closed mid-body
    (lambda request: b"HTTP/1.1 abc\r\n\r\n", httpx2.RemoteProtocolError),
], ids=["no-answer", "cut-body", "malformed"])
async def test_broken_answers_are_httpx2_errors_and_ours_after_translation(answer, error):
    async with serving(answer) as (_, client):
        with pytest.raises(error):
            await client.post("/", content=b"{}")
        with pytest.raises(GatewayUnavailableError), translated_errors("http://gateway", 1):
            await client.post("/", content=b"{}")


async def test_a_refused_connection_is_the_gateway_unavailable():
    listener = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    listener.close()
    await listener.wait_closed()
    transport = GatewayTransport(f"http://127.0.0.1:{port}/v1", timeout=5)
    with pytest.raises(GatewayUnavailableError, match="ConnectError"):
        await transport.post("/chat/completions", b"{}", {}, 5)
    await transport.aclose()


async def test_a_slow_reader_pauses_the_socket_and_still_gets_every_byte():
    big = bytes(range(256)) * 8192  # 2 MB: more than the pool buffers before it pauses reading
    async with serving(lambda request: ok(big)) as (_, client):
        async with client.stream("GET", "/") as response:
            received = b""
            async for chunk in response.aiter_raw():
                received += chunk
                await asyncio.sleep(0)  # a consumer slower than the socket: yields on every chunk
        assert received == big


def test_the_gateway_transport_uses_the_lean_pool_for_plain_http_only():
    assert isinstance(GatewayTransport("http://127.0.0.1:8787/v1", timeout=5)._default_client()._transport,
                      Http11Pool)
    assert not isinstance(GatewayTransport("https://api.portkey.ai/v1", timeout=5)._default_client()._transport,
                          Http11Pool)


def test_the_pool_runs_on_uvloop_as_under_sophia_serve():
    import uvloop

    async def two_requests() -> int:
        async with serving(lambda request: ok()) as (server, client):
            for _ in range(2):
                assert (await client.post("/", content=b"{}")).json() == {"ok": True}
            return server.connections

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(two_requests()) == 1
