"""Provider simulators, exercised over real HTTP with httpx and the official OpenAI SDK.

Most tests run against an in-process SimulatorCluster on the session event loop, so they
must use async clients; the sync OpenAI SDK runs against the subprocess variant.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import signal
import time

import httpx
import numpy as np
import openai
import pytest
from pydantic import ValidationError

from app.simulators import PROVIDER_NAMES, Fault, SimulatorCluster, SimulatorControl, start_simulators_process

OPENAI_STYLE = [p for p in PROVIDER_NAMES if p != "anthropic"]
MODELS = {
    "openai": "gpt-4o-mini",
    "deepseek": "deepseek-chat",
    "groq": "llama-3.3-70b-versatile",
    "mistral": "mistral-small-latest",
    "together": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
    "perplexity": "sonar",
    "anthropic": "claude-sonnet-4-20250514",
}
AUTH = {"authorization": "Bearer sk-test"}
ANTHROPIC_HEADERS = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"}
ASK = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "What is the capital of France?"},
]


@pytest.fixture(scope="module")
async def cluster():
    async with SimulatorCluster(control_port=0) as c:
        yield c


@pytest.fixture(autouse=True)
def _clean(request):
    if "cluster" in request.fixturenames:
        c = request.getfixturevalue("cluster")
        c.clear_faults()
        c.reset_stats()
    yield


@pytest.fixture
async def http():
    async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
        yield client


def aclient(cluster, provider):
    return openai.AsyncOpenAI(
        base_url=cluster.base_urls[provider],
        api_key="sk-test",
        max_retries=0,
        http_client=httpx.AsyncClient(trust_env=False, timeout=5.0),
    )


def chat_body(provider, **extra):
    return {"model": MODELS[provider], "messages": ASK, **extra}


async def post_chat(http, cluster, provider, **extra):
    if provider == "anthropic":
        body = {"model": MODELS[provider], "max_tokens": 64, "messages": ASK[1:], **extra}
        return await http.post(
            cluster.base_urls[provider] + "/messages", json=body, headers=ANTHROPIC_HEADERS
        )
    return await http.post(
        cluster.base_urls[provider] + "/chat/completions", json=chat_body(provider, **extra), headers=AUTH
    )


def sse_data(text: str) -> list[str]:
    return [line[len("data: ") :] for line in text.splitlines() if line.startswith("data: ")]


# ---------------------------------------------------------------- chat, OpenAI-compatible


@pytest.mark.parametrize("provider", OPENAI_STYLE)
async def test_chat_non_stream_with_sdk(cluster, provider):
    async with aclient(cluster, provider) as client:
        resp = await client.chat.completions.create(model=MODELS[provider], messages=ASK)
    text = resp.choices[0].message.content
    assert text == f"[{provider}/{MODELS[provider]}] What is the capital of France?"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage.prompt_tokens == 2 + 6
    assert resp.usage.completion_tokens == len(text.split())
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    assert resp.model == MODELS[provider]
    stats = cluster.stats(provider)
    assert stats["requests"] == {"/chat/completions": 1}
    assert stats["last_body"]["model"] == MODELS[provider]
    assert "authorization" in stats["last_headers"]


@pytest.mark.parametrize("provider", OPENAI_STYLE)
async def test_chat_stream_with_sdk_and_usage(cluster, provider):
    async with aclient(cluster, provider) as client:
        stream = await client.chat.completions.create(
            model=MODELS[provider], messages=ASK, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"[{provider}/{MODELS[provider]}] What is the capital of France?"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == len(text.split())
    assert chunks[-1].usage.prompt_tokens == 8


@pytest.mark.parametrize("provider", OPENAI_STYLE)
async def test_stream_wire_quirks(cluster, http, provider):
    resp = await post_chat(http, cluster, provider, stream=True)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    data = sse_data(resp.text)
    # Perplexity ends after the finishing chunk (the gateway appends [DONE] itself) and
    # separates events with CRLF, which is what the gateway splits its stream on.
    assert (data[-1] == "[DONE]") == (provider != "perplexity")
    assert ("\r\n\r\n" in resp.text) == (provider == "perplexity")
    chunks = [json.loads(d) for d in data if d != "[DONE]"]
    finish = chunks[-1]
    assert finish["choices"][0]["finish_reason"] == "stop"
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    if provider == "groq":
        assert finish["x_groq"]["usage"]["completion_tokens"] > 0
    elif provider in ("deepseek", "mistral", "together", "perplexity"):
        assert finish["usage"]["total_tokens"] > 0
    else:
        assert "usage" not in finish  # OpenAI only reports stream usage when asked


async def test_max_tokens_truncates(cluster):
    async with aclient(cluster, "openai") as client:
        resp = await client.chat.completions.create(model="gpt-4o", messages=ASK, max_tokens=3)
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=ASK, max_completion_tokens=3, stream=True
        )
        chunks = [c async for c in stream]
    assert resp.choices[0].message.content == "[openai/gpt-4o] What is"
    assert resp.choices[0].finish_reason == "length"
    assert resp.usage.completion_tokens == 3
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "[openai/gpt-4o] What is"
    assert chunks[-1].choices[0].finish_reason == "length"


async def test_json_request_gets_json_answer(cluster):
    async with aclient(cluster, "groq") as client:
        resp = await client.chat.completions.create(
            model="llama-3.1-8b-instant",
            messages=[{"role": "user", "content": "Summarise this as JSON please"}],
        )
    obj = json.loads(resp.choices[0].message.content)
    assert set(obj) == {"summary", "key_points", "recommendations", "confidence"}
    assert obj["summary"].startswith("[groq/llama-3.1-8b-instant]")
    assert obj["confidence"] == 0.8


FINDINGS_SCHEMA = {
    "$defs": {"Finding": {"type": "object", "required": ["title", "severity", "line"], "properties": {
        "title": {"type": "string"},
        "severity": {"enum": ["high", "low"], "type": "string"},
        "line": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}], "default": None},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "fixed": {"type": "boolean", "default": False}}}},
    "type": "object", "required": ["findings", "summary"],
    "properties": {"findings": {"type": "array", "items": {"$ref": "#/$defs/Finding"}, "minItems": 2},
                   "summary": {"type": "string", "maxLength": 12}, "verdict": {"const": "done"}},
}
FINDINGS_INSTANCE = {
    "findings": [{"title": "{tag} title", "severity": "high", "line": 1, "confidence": 0.5, "fixed": False}] * 2,
    "summary": "{tag} summary"[:12], "verdict": "done",
}


@pytest.mark.parametrize("provider", ["groq", "anthropic"])
@pytest.mark.parametrize("stream", [False, True])
async def test_a_json_schema_in_the_prompt_gets_an_instance_of_it(cluster, http, provider, stream):
    ask = [{"role": "user", "content": "Scan this. Answer with one JSON object that validates against this JSON "
                                       "Schema:\n" + json.dumps(FINDINGS_SCHEMA) + "\nNo prose."}]
    if provider == "anthropic":
        resp = await http.post(cluster.base_urls[provider] + "/messages", headers=ANTHROPIC_HEADERS,
                               json={"model": MODELS[provider], "max_tokens": 500, "messages": ask, "stream": stream})
    else:
        resp = await http.post(cluster.base_urls[provider] + "/chat/completions", headers=AUTH,
                               json={"model": MODELS[provider], "messages": ask, "stream": stream})
    if not stream:
        body = resp.json()
        text = body["content"][0]["text"] if provider == "anthropic" else body["choices"][0]["message"]["content"]
    elif provider == "anthropic":
        events = [json.loads(line[6:]) for line in resp.text.splitlines() if line.startswith("data: ")]
        text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    else:
        chunks = [json.loads(d) for d in sse_data(resp.text) if d != "[DONE]"]
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    tag = f"[{provider}/{MODELS[provider]}]"
    expected = json.loads(json.dumps(FINDINGS_INSTANCE).replace("{tag}", tag))
    expected["summary"] = f"{tag} summary"[:12]
    assert json.loads(text) == expected


def test_schema_instances_honour_examples_defaults_and_bounds():
    from app.simulators.answers import instance_of, requested_schema

    assert requested_schema("no schema here") is None
    assert requested_schema("JSON Schema: {not json} and then JSON Schema {\"type\": \"integer\"}") == {
        "type": "integer"}
    assert instance_of({"type": "string", "examples": ["picked"]}, "[t]") == "picked"
    assert instance_of({"type": "boolean", "default": False}, "[t]") is False
    assert instance_of({"type": "integer", "exclusiveMinimum": 3}, "[t]") == 4
    assert instance_of({"type": "number", "maximum": 0.25}, "[t]") == 0.25
    assert instance_of({"type": "string", "minLength": 8}, "[t]") == "[t] value"
    assert instance_of({"type": ["null", "string"]}, "[t]", name="note") == "[t] note"


async def test_in_flight_counts_requests_until_they_are_answered_or_abandoned(cluster, http):
    cluster.set_fault("mistral", mode="stall_headers")
    stalled = asyncio.create_task(post_chat(http, cluster, "mistral"))
    async with asyncio.timeout(10):
        while cluster.stats("mistral")["in_flight"] != 1:
            await asyncio.sleep(0.01)  # polling the simulator's count while the request is being received
    stalled.cancel()  # the client hangs up
    with pytest.raises(asyncio.CancelledError):
        await stalled
    async with asyncio.timeout(10):
        while cluster.stats("mistral")["in_flight"]:
            await asyncio.sleep(0.01)  # polling until the simulator notices the hang-up
    cluster.clear_faults()
    assert (await post_chat(http, cluster, "mistral")).status_code == 200
    assert cluster.stats("mistral")["in_flight"] == 0 and cluster.stats("mistral")["total"] == 2


async def test_perplexity_citations(cluster, http):
    resp = await post_chat(http, cluster, "perplexity")
    body = resp.json()
    assert body["citations"] and all(url.startswith("https://") for url in body["citations"])
    assert [r["url"] for r in body["search_results"]] == body["citations"]
    stream = await post_chat(http, cluster, "perplexity", stream=True)
    first = json.loads(sse_data(stream.text)[0])
    assert first["citations"] == body["citations"]


async def test_content_parts_and_missing_fields(cluster, http):
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "part one"}, {"type": "text", "text": "two"}]}
    ]
    resp = await http.post(
        cluster.base_urls["openai"] + "/chat/completions",
        headers=AUTH,
        json={"model": "gpt-4o", "messages": messages},
    )
    assert resp.json()["choices"][0]["message"]["content"] == "[openai/gpt-4o] part one two"
    bad = await http.post(
        cluster.base_urls["openai"] + "/chat/completions", headers=AUTH, json={"model": "x"}
    )
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"
    garbage = await http.post(
        cluster.base_urls["openai"] + "/chat/completions", headers=AUTH, content=b"{nope"
    )
    assert garbage.status_code == 400


# ---------------------------------------------------------------- anthropic


async def test_anthropic_messages(cluster, http):
    body = {
        "model": "claude-3-5-haiku-20241022",
        "max_tokens": 100,
        "system": "be brief",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello Claude"}]}],
    }
    resp = await http.post(cluster.base_urls["anthropic"] + "/messages", json=body, headers=ANTHROPIC_HEADERS)
    assert resp.status_code == 200
    assert resp.headers["request-id"].startswith("req_")
    msg = resp.json()
    assert msg["type"] == "message" and msg["role"] == "assistant"
    assert msg["content"] == [{"type": "text", "text": "[anthropic/claude-3-5-haiku-20241022] Hello Claude"}]
    assert msg["stop_reason"] == "end_turn" and msg["stop_sequence"] is None
    assert msg["usage"]["input_tokens"] == 4 and msg["usage"]["output_tokens"] == 3
    short = await http.post(
        cluster.base_urls["anthropic"] + "/messages",
        json={**body, "max_tokens": 1},
        headers=ANTHROPIC_HEADERS,
    )
    assert short.json()["stop_reason"] == "max_tokens"
    assert short.json()["content"][0]["text"] == "[anthropic/claude-3-5-haiku-20241022]"


async def test_anthropic_stream_events(cluster, http):
    resp = await post_chat(http, cluster, "anthropic", stream=True)
    assert resp.headers["content-type"].startswith("text/event-stream")
    blocks = [b for b in resp.text.split("\n\n") if b]
    names = [b.split("\n")[0].removeprefix("event: ") for b in blocks]
    datas = [json.loads(b.split("\n")[1].removeprefix("data: ")) for b in blocks]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(names[3:-3]) == {"content_block_delta"}
    assert [d["type"] for d in datas] == names
    text = "".join(d["delta"]["text"] for d in datas if d["type"] == "content_block_delta")
    assert text == "[anthropic/claude-sonnet-4-20250514] What is the capital of France?"
    assert all(d["delta"]["type"] == "text_delta" for d in datas if d["type"] == "content_block_delta")
    assert datas[-2]["delta"]["stop_reason"] == "end_turn"
    assert datas[-2]["usage"]["output_tokens"] == len(text.split())
    assert datas[0]["message"]["usage"]["input_tokens"] == 6


async def test_anthropic_auth_and_version(cluster, http):
    url = cluster.base_urls["anthropic"] + "/messages"
    body = {"model": "claude-x", "max_tokens": 5, "messages": ASK[1:]}
    no_key = await http.post(url, json=body, headers={"anthropic-version": "2023-06-01"})
    assert no_key.status_code == 401
    assert no_key.json()["type"] == "error"
    assert no_key.json()["error"]["type"] == "authentication_error"
    no_version = await http.post(url, json=body, headers={"x-api-key": "k"})
    assert no_version.status_code == 400
    assert no_version.json()["error"]["type"] == "invalid_request_error"
    no_max = await http.post(url, json={"model": "claude-x", "messages": ASK[1:]}, headers=ANTHROPIC_HEADERS)
    assert no_max.status_code == 400


# ---------------------------------------------------------------- auth, models, 404


@pytest.mark.parametrize("provider", OPENAI_STYLE)
async def test_missing_key_is_401_in_provider_shape(cluster, http, provider):
    resp = await http.post(cluster.base_urls[provider] + "/chat/completions", json=chat_body(provider))
    assert resp.status_code == 401
    body = resp.json()
    if provider == "mistral":
        assert body["message"] == "Unauthorized"
    else:
        assert body["error"]["message"]
    if provider == "perplexity":
        assert body["error"]["code"] == 401
    empty = await http.post(
        cluster.base_urls[provider] + "/chat/completions",
        json=chat_body(provider),
        headers={"authorization": "Bearer"},
    )
    assert empty.status_code == 401
    with pytest.raises(openai.AuthenticationError):
        async with openai.AsyncOpenAI(
            base_url=cluster.base_urls[provider],
            api_key="x",
            max_retries=0,
            default_headers={"Authorization": "Basic abc"},
            http_client=httpx.AsyncClient(trust_env=False),
        ) as client:
            await client.chat.completions.create(model=MODELS[provider], messages=ASK)


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
async def test_models(cluster, http, provider):
    headers = ANTHROPIC_HEADERS if provider == "anthropic" else AUTH
    resp = await http.get(cluster.base_urls[provider] + "/models", headers=headers)
    assert resp.status_code == 200
    body = resp.json()
    ids = [m["id"] for m in (body if provider == "together" else body["data"])]  # Together: a bare array
    assert MODELS[provider] in ids
    unauth = await http.get(cluster.base_urls[provider] + "/models")
    assert unauth.status_code == 401


async def test_models_with_sdk(cluster):
    async with aclient(cluster, "openai") as client:
        ids = [m.id async for m in client.models.list()]
    assert "text-embedding-3-large" in ids


async def test_unknown_path_404(cluster, http):
    resp = await http.post(cluster.base_urls["openai"] + "/nope", headers=AUTH, json={})
    assert resp.status_code == 404 and "error" in resp.json()
    resp = await http.get(cluster.base_urls["anthropic"] + "/nope")
    assert resp.status_code == 404 and resp.json()["error"]["type"] == "not_found_error"


# ---------------------------------------------------------------- embeddings


@pytest.mark.parametrize(
    ("provider", "model", "dim"),
    [
        ("openai", "text-embedding-3-small", 1536),
        ("openai", "text-embedding-3-large", 3072),
        ("openai", "something-new", 1536),
        ("mistral", "mistral-embed", 1024),
        ("together", "togethercomputer/m2-bert-80M-8k-retrieval", 768),
    ],
)
async def test_embeddings(cluster, http, provider, model, dim):
    url = cluster.base_urls[provider] + "/embeddings"
    resp = await http.post(url, headers=AUTH, json={"model": model, "input": ["alpha beta", "gamma"]})
    assert resp.status_code == 200
    body = resp.json()
    assert body["object"] == "list" and body["model"] == model
    assert body["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    vecs = [np.array(d["embedding"]) for d in body["data"]]
    assert [d["index"] for d in body["data"]] == [0, 1]
    assert all(v.shape == (dim,) for v in vecs)
    assert all(math.isclose(np.linalg.norm(v), 1.0, abs_tol=1e-5) for v in vecs)
    again = (await http.post(url, headers=AUTH, json={"model": model, "input": "alpha beta"})).json()
    assert np.allclose(again["data"][0]["embedding"], vecs[0])
    assert abs(float(vecs[0] @ vecs[1])) < 0.2


async def test_embeddings_sdk_base64_and_dimensions(cluster, http):
    async with aclient(cluster, "openai") as client:
        resp = await client.embeddings.create(model="text-embedding-3-small", input="hello world")
        small = await client.embeddings.create(model="text-embedding-3-small", input="hello", dimensions=256)
    vec = np.array(resp.data[0].embedding)
    assert vec.shape == (1536,) and math.isclose(np.linalg.norm(vec), 1.0, rel_tol=1e-5)
    assert len(small.data[0].embedding) == 256
    raw = await http.post(
        cluster.base_urls["openai"] + "/embeddings",
        headers=AUTH,
        json={"model": "text-embedding-3-small", "input": "hello world", "encoding_format": "base64"},
    )
    decoded = np.frombuffer(base64.b64decode(raw.json()["data"][0]["embedding"]), dtype="<f4")
    assert np.allclose(decoded, vec, atol=1e-6)


@pytest.mark.parametrize("provider", ["deepseek", "groq", "perplexity"])
async def test_no_embeddings_is_404_in_provider_shape(cluster, http, provider):
    resp = await http.post(
        cluster.base_urls[provider] + "/embeddings", headers=AUTH, json={"model": "x", "input": "y"}
    )
    assert resp.status_code == 404
    assert "error" in resp.json()


# ---------------------------------------------------------------- faults


def test_fault_validation():
    with pytest.raises(ValidationError):
        Fault(status=429, mode="drop")
    with pytest.raises(ValidationError):
        Fault(retry_after=1)
    with pytest.raises(ValidationError):
        Fault(mode="refuse", times=1)
    with pytest.raises(ValidationError):
        Fault(mode="explode")
    with pytest.raises(ValidationError):
        Fault(status=200)
    assert Fault(latency_ms=5).mode is None


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
async def test_status_fault_with_retry_after_and_times(cluster, http, provider):
    cluster.set_fault(provider, Fault(status=429, retry_after=2, times=2))
    for _ in range(2):
        resp = await post_chat(http, cluster, provider)
        assert resp.status_code == 429
        assert resp.headers["retry-after"] == "2"
        body = resp.json()
        if provider == "anthropic":
            assert body["error"]["type"] == "rate_limit_error"
        elif provider == "mistral":
            assert body["object"] == "error" and body["message"]
        else:
            assert body["error"]["message"]
    assert (await post_chat(http, cluster, provider)).status_code == 200
    assert cluster.faults()[provider] is None
    assert cluster.stats(provider)["faults_applied"] == 2


async def test_status_fault_maps_to_sdk_errors(cluster):
    cluster.set_fault("openai", status=503)
    async with aclient(cluster, "openai") as client:
        with pytest.raises(openai.InternalServerError):
            await client.chat.completions.create(model="gpt-4o", messages=ASK)
        cluster.set_fault("openai", status=429, retry_after=1)
        with pytest.raises(openai.RateLimitError) as info:
            await client.chat.completions.create(model="gpt-4o", messages=ASK)
    assert info.value.response.headers["retry-after-ms"] == "1000"


async def test_faults_skip_models_endpoint(cluster, http):
    cluster.set_fault("openai", status=500, times=1)
    assert (await http.get(cluster.base_urls["openai"] + "/models", headers=AUTH)).status_code == 200
    assert (await post_chat(http, cluster, "openai")).status_code == 500


async def test_latency(cluster, http):
    cluster.set_fault("deepseek", latency_ms=150, times=1)
    start = time.perf_counter()
    assert (await post_chat(http, cluster, "deepseek")).status_code == 200
    assert time.perf_counter() - start >= 0.15
    start = time.perf_counter()
    assert (await post_chat(http, cluster, "deepseek")).status_code == 200
    assert time.perf_counter() - start < 0.15


async def test_latency_combines_with_status(cluster, http):
    cluster.set_fault("groq", status=500, latency_ms=100)
    start = time.perf_counter()
    assert (await post_chat(http, cluster, "groq")).status_code == 500
    assert time.perf_counter() - start >= 0.1


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_drop(cluster, http, provider):
    cluster.set_fault(provider, mode="drop", times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        await post_chat(http, cluster, provider)
    assert (await post_chat(http, cluster, provider)).status_code == 200


@pytest.mark.parametrize("provider", ["openai", "anthropic", "perplexity"])
async def test_malformed(cluster, http, provider):
    cluster.set_fault(provider, mode="malformed")
    resp = await post_chat(http, cluster, provider)
    assert resp.status_code == 200
    with pytest.raises(ValueError):
        json.loads(resp.text)
    stream = await post_chat(http, cluster, provider, stream=True)
    assert stream.status_code == 200
    with pytest.raises(ValueError):
        json.loads(sse_data(stream.text)[0])


async def test_malformed_breaks_the_sdk(cluster):
    cluster.set_fault("openai", mode="malformed")
    async with aclient(cluster, "openai") as client:
        with pytest.raises(ValueError):  # the SDK surfaces the JSONDecodeError as is
            await client.chat.completions.create(model="gpt-4o", messages=ASK)


async def _read_until_broken(http, cluster, provider, **extra):
    """POST a request, return (status, bytes received) and assert the body never completed."""
    url = cluster.base_urls[provider] + ("/messages" if provider == "anthropic" else "/chat/completions")
    if provider == "anthropic":
        body, headers = (
            {"model": "claude-x", "max_tokens": 50, "messages": ASK[1:], **extra},
            ANTHROPIC_HEADERS,
        )
    else:
        body, headers = chat_body(provider, **extra), AUTH
    received = b""
    async with http.stream("POST", url, json=body, headers=headers) as resp:
        with pytest.raises(httpx.RemoteProtocolError):
            async for part in resp.aiter_raw():
                received += part
        return resp.status_code, resp.headers, received


@pytest.mark.parametrize("provider", ["openai", "anthropic", "groq"])
async def test_cut_before_first_chunk(cluster, http, provider):
    cluster.set_fault(provider, mode="cut_before_first_chunk", times=2)
    status, headers, received = await _read_until_broken(http, cluster, provider, stream=True)
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    assert received == b""
    status, headers, received = await _read_until_broken(http, cluster, provider)
    assert status == 200 and int(headers["content-length"]) > 0 and received == b""
    assert (await post_chat(http, cluster, provider)).status_code == 200


@pytest.mark.parametrize("provider", ["openai", "anthropic", "mistral"])
async def test_cut_after_first_chunk(cluster, http, provider):
    cluster.set_fault(provider, mode="cut_after_first_chunk", times=2)
    status, _, received = await _read_until_broken(http, cluster, provider, stream=True)
    assert status == 200
    text = received.decode()
    if provider == "anthropic":
        assert text.count("event: content_block_delta") == 1
        assert "message_stop" not in text
    else:
        assert len(sse_data(text)) == 1
        assert json.loads(sse_data(text)[0])["choices"][0]["delta"]["content"]
    status, headers, received = await _read_until_broken(http, cluster, provider)
    assert 0 < len(received) < int(headers["content-length"])


async def test_cut_after_first_chunk_with_sdk(cluster):
    cluster.set_fault("openai", mode="cut_after_first_chunk")
    got = []
    async with aclient(cluster, "openai") as client:
        stream = await client.chat.completions.create(model="gpt-4o", messages=ASK, stream=True)
        with pytest.raises(openai.APIConnectionError):
            async for chunk in stream:
                got.append(chunk.choices[0].delta.content)  # noqa: PERF401 - collects until the stream raises
    assert got == ["[openai/gpt-4o]"]


async def test_refuse_then_clear(cluster, http):
    # A warm keep-alive connection must be hung up too, not just the listening socket.
    assert (await post_chat(http, cluster, "mistral")).status_code == 200
    cluster.set_fault("mistral", mode="refuse")
    for _ in range(2):
        with pytest.raises(httpx.ConnectError):
            await post_chat(http, cluster, "mistral")
    with pytest.raises(httpx.ConnectError):
        await http.get(cluster.base_urls["mistral"] + "/models", headers=AUTH)
    assert (await post_chat(http, cluster, "openai")).status_code == 200  # other providers unaffected
    cluster.clear_faults("mistral")
    assert (await post_chat(http, cluster, "mistral")).status_code == 200


async def test_refuse_replaced_by_other_fault_reopens(cluster, http):
    cluster.set_fault("together", mode="refuse")
    with pytest.raises(httpx.ConnectError):
        await post_chat(http, cluster, "together")
    cluster.set_fault("together", status=502, times=1)
    assert (await post_chat(http, cluster, "together")).status_code == 502
    assert (await post_chat(http, cluster, "together")).status_code == 200


# ---------------------------------------------------------------- control plane (HTTP)


async def test_control_plane_in_process(cluster, http):
    control = SimulatorControl(cluster.control_url)
    assert await control.ahealth() == {"status": "ok"}
    assert await control.aproviders() == cluster.base_urls
    await control.aset_fault("openai", status=500, times=1)
    assert (await control.afaults())["openai"]["remaining"] == 1
    assert (await post_chat(http, cluster, "openai")).status_code == 500
    await post_chat(http, cluster, "openai")
    stats = await control.astats("openai")
    assert stats["requests"] == {"/chat/completions": 2} and stats["faults_applied"] == 1
    assert stats["last_body"]["model"] == MODELS["openai"]
    assert "authorization" in stats["last_headers"]
    assert "sk-test" not in json.dumps(await control.astats())  # header values are never exposed
    await control.aset_fault("openai", mode="refuse")
    with pytest.raises(httpx.ConnectError):
        await post_chat(http, cluster, "openai")
    await control.aclear_faults()
    assert (await post_chat(http, cluster, "openai")).status_code == 200
    await control.areset_stats()
    assert (await control.astats("openai"))["total"] == 0
    bad = await http.put(cluster.control_url + "/faults/openai", json={"status": 429, "mode": "drop"})
    assert bad.status_code == 422
    unknown = await http.put(cluster.control_url + "/faults/nobody", json={})
    assert unknown.status_code == 404


def _drive_sync_sdk(sims, client):
    resp = client.chat.completions.create(model="gpt-4.1", messages=ASK)
    assert resp.choices[0].message.content.startswith("[openai/gpt-4.1]")
    stream = client.chat.completions.create(
        model="gpt-4.1", messages=ASK, stream=True, stream_options={"include_usage": True}
    )
    assert [c for c in stream][-1].usage.total_tokens > 0
    emb = client.embeddings.create(model="text-embedding-3-large", input=["a", "b"])
    assert [len(d.embedding) for d in emb.data] == [3072, 3072]

    sims.control.set_fault("openai", mode="refuse")
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="gpt-4.1", messages=ASK)
    sims.control.clear_faults("openai")
    sims.control.set_fault("openai", status=429, retry_after=1, times=1)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4.1", messages=ASK)
    client.chat.completions.create(model="gpt-4.1", messages=ASK)
    stats = sims.control.stats("openai")
    assert stats["requests"]["/chat/completions"] == 4
    assert stats["last_body"]["model"] == "gpt-4.1"
    sims.control.reset_stats()
    assert sims.control.stats()["openai"]["total"] == 0


def test_subprocess_with_sync_sdk():
    with start_simulators_process() as sims:
        assert set(sims.base_urls) == set(PROVIDER_NAMES)
        client = openai.OpenAI(
            base_url=sims.base_urls["openai"],
            api_key="sk-test",
            max_retries=0,
            http_client=httpx.Client(trust_env=False),
        )
        try:
            _drive_sync_sdk(sims, client)
        finally:
            client.close()
        proc = sims.proc
    assert proc.returncode == 0


def test_cli_exits_cleanly_on_sigint():
    sims = start_simulators_process(port_base=0)
    assert httpx.get(sims.control_url + "/health", trust_env=False).json() == {"status": "ok"}
    sims.proc.send_signal(signal.SIGINT)
    assert sims.proc.wait(10) == 0
    sims.stop()


# ---------------------------------------------------------------- stable ids


@pytest.mark.parametrize("provider", ["openai", "groq", "perplexity", "anthropic"])
async def test_stable_ids_give_the_same_request_the_same_bytes(http, provider):
    async with SimulatorCluster(stable_ids=True) as stable, SimulatorCluster() as fresh:
        first, again = [(await post_chat(http, stable, provider, stream=True)).content for _ in range(2)]
        other = (await post_chat(http, stable, provider, stream=True, messages=[
            {"role": "user", "content": "Something else"}])).content
        unstable = [(await post_chat(http, fresh, provider, stream=True)).content for _ in range(2)]
    assert first == again
    assert other != first
    assert unstable[0] != unstable[1]  # by default ids are fresh and `created` is the clock
