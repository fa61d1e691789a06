"""The service through the official openai SDK: chat, streams, embeddings, models, roles, errors."""

from __future__ import annotations

import uuid

import httpx
import openai
import pytest

from app.simulators import Fault

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(service):
    with openai.OpenAI(base_url=service.url + "/v1", api_key="unused-on-loopback", max_retries=0,
                       timeout=30) as c:
        yield c


def _ask(text: str) -> list[dict[str, str]]:
    # Unique text: the response cache must not answer a test that is about routing.
    return [{"role": "user", "content": f"{text} ({uuid.uuid4().hex[:8]})"}]


def test_chat_with_provider_model(client):
    raw = client.chat.completions.with_raw_response.create(model="groq/llama-3.3-70b-versatile",
                                                           messages=_ask("Hello"))
    completion = raw.parse()
    assert completion.choices[0].message.content
    assert completion.model == "llama-3.3-70b-versatile"
    assert raw.headers["x-sophia-provider"] == "groq"
    assert raw.headers["x-sophia-fallback"] == "false"
    assert completion.usage.total_tokens > 0


def test_together_model_ids_keep_their_slash(client):
    completion = client.chat.completions.create(model="together/meta-llama/Llama-3.3-70B-Instruct-Turbo",
                                                messages=_ask("Hi"))
    assert completion.model == "meta-llama/Llama-3.3-70B-Instruct-Turbo"


def test_stream_ends_with_done_and_carries_the_answer(service, client):
    stream = client.chat.completions.create(model="mistral/mistral-large-latest", messages=_ask("Stream"),
                                            stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert "mistral" in text
    with httpx.stream("POST", service.url + "/v1/chat/completions", timeout=30,
                      json={"model": "groq", "messages": _ask("raw"), "stream": True}) as response:
        lines = [line for line in response.iter_lines() if line]
    assert response.headers["content-type"].startswith("text/event-stream")
    assert lines[-1] == "data: [DONE]"


def test_role_model_uses_the_role_chain_and_falls_back(client, simulators):
    first = client.chat.completions.with_raw_response.create(model="artemis/code_reviewer", messages=_ask("Hi"))
    assert first.headers["x-sophia-provider"] == "openai"
    simulators.control.set_fault("openai", Fault(status=503))
    second = client.chat.completions.with_raw_response.create(model="artemis/code_reviewer", messages=_ask("Hi"))
    assert second.headers["x-sophia-provider"] == "anthropic"
    assert second.headers["x-sophia-fallback"] == "true"
    routing = second.parse().model_extra["routing"]
    assert [a["provider"] for a in routing["attempts"]] == ["openai", "anthropic"]


def test_embeddings_float_and_default_base64(client):
    default = client.embeddings.create(model="openai/text-embedding-3-small", input=["alpha", "beta"])
    floats = client.embeddings.create(model="openai/text-embedding-3-small", input=["alpha", "beta"],
                                      encoding_format="float")
    assert len(default.data) == 2
    assert len(default.data[0].embedding) == len(floats.data[0].embedding) > 0
    assert default.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)


def test_models_list_roles_and_provider_models(client):
    ids = {m.id for m in client.models.list()}
    assert {"artemis/code_reviewer", "sophia/market_analyst", "groq/llama-3.3-70b-versatile",
            "together/meta-llama/Llama-3.3-70B-Instruct-Turbo", "openai/text-embedding-3-small"} <= ids


def test_errors_use_openai_shapes_and_statuses(client, simulators):
    with pytest.raises(openai.NotFoundError) as unknown:
        client.chat.completions.create(model="nosuch/model", messages=_ask("Hi"))
    assert unknown.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="groq/llama-3.3-70b-versatile", messages=[{"role": "robot",
                                                                                         "content": "x"}])
    assert "role" in bad.value.message
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="artemis/no_such_role", messages=_ask("Hi"))
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="groq", messages=_ask("Hi"), temperature=7)
    for name in ("openai", "anthropic", "deepseek"):
        simulators.control.set_fault(name, Fault(status=500))
    with pytest.raises(openai.APIStatusError) as failed:
        client.chat.completions.create(model="artemis/code_reviewer", messages=_ask("Hi"))
    assert failed.value.status_code == 502
    assert failed.value.body["code"] == "all_providers_failed"
    assert [a["provider"] for a in failed.value.body["attempts"]] == ["openai", "anthropic", "deepseek"]
    simulators.control.set_fault("groq", Fault(status=429, retry_after=7))
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="groq", messages=_ask("Hi"), extra_body={"fallbacks": []})
    assert limited.value.response.headers["retry-after"] == "7"


def test_stream_failing_before_content_is_an_http_error(client, simulators):
    simulators.control.set_fault("perplexity", Fault(status=500))
    with pytest.raises(openai.APIStatusError) as failed:
        client.chat.completions.create(model="perplexity/sonar-pro", messages=_ask("Hi"), stream=True,
                                       extra_body={"fallbacks": []})
    assert failed.value.status_code >= 500


def test_stream_interrupted_mid_answer_sends_an_error_event_not_done(service, simulators):
    simulators.control.set_fault("groq", Fault(mode="cut_after_first_chunk"))
    with httpx.stream("POST", service.url + "/v1/chat/completions", timeout=30,
                      json={"model": "groq/llama-3.3-70b-versatile", "messages": _ask("Hi"), "stream": True}) as r:
        lines = [line for line in r.iter_lines() if line]
    assert r.status_code == 200
    assert '"stream_interrupted"' in lines[-1]
    assert "data: [DONE]" not in lines


def test_agent_endpoints(service):
    with httpx.Client(base_url=service.url, timeout=30) as http:
        agent = http.post("/v1/agents", json={"domain": "artemis", "name": "Scanner", "role": "security_auditor",
                                               "focus": "vulnerability_detection"}).json()
        assert agent["role"] == "security_auditor" and "system_prompt" not in agent
        run = http.post(f"/v1/agents/{agent['id']}/execute", json={"prompt": "Audit eval(input())",
                                                                   "max_tokens": 200})
        assert run.status_code == 200, run.text
        assert run.json()["provider"] == "anthropic" and run.json()["content"]
        analyst = http.post("/v1/agents", json={"domain": "sophia", "name": "Analyst", "role": "MARKET_ANALYST",
                                                 "focus": "technology"}).json()
        insight = http.post(f"/v1/agents/{analyst['id']}/insights",
                            json={"query": "AI adoption trends?", "context": {"industry": "software"}})
        assert insight.status_code == 200, insight.text
        assert insight.json()["summary"] and insight.json()["execution"]["provider"] == "perplexity"
        assert {a["name"] for a in http.get("/v1/agents").json()["data"]} >= {"Scanner", "Analyst"}
        assert http.post("/v1/agents/nope/execute", json={"prompt": "x"}).status_code == 404
        wrong = http.post(f"/v1/agents/{analyst['id']}/execute", json={"prompt": "x"})
        assert wrong.status_code == 400 and wrong.json()["error"]["type"] == "invalid_request_error"
        bad_role = http.post("/v1/agents", json={"domain": "artemis", "name": "X", "role": "chef"})
        assert bad_role.status_code == 400


def test_health_metrics_and_body_limit(service, e2e_env):
    with httpx.Client(base_url=service.url, timeout=30) as http:
        http.post("/v1/chat/completions", json={"model": "groq", "messages": _ask("warm")})
        health = http.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "operational"
        metrics = http.get("/metrics").text
        for name in ("sophia_requests_total", "sophia_request_latency_seconds_bucket", "sophia_provider_up",
                     "sophia_tokens_total", "sophia_fallbacks_total", "sophia_cache_hits_total",
                     "sophia_vector_search_seconds", "sophia_analytics_rows_written_total"):
            assert name in metrics
        big = http.post("/v1/chat/completions", json={"model": "groq", "messages": _ask("x" * 300_000)})
        assert big.status_code == 413 and big.json()["error"]["code"] == "request_too_large"
        chunked = http.post("/v1/chat/completions", content=iter([b"{" + b" " * 150_000, b" " * 150_000 + b"}"]),
                            headers={"content-type": "application/json"})
        assert chunked.status_code == 413
        texts = [health.text, metrics, http.get("/api/dashboard").text, http.get("/").text]
    keys = [v for k, v in e2e_env.items() if k.endswith("_API_KEY")]
    for text in texts:
        for key in keys:
            assert key not in text


def test_reserved_request_fields_are_not_passed_through(client):
    # `metadata` is an OpenAI field; the manager's own keywords must not be settable by a client.
    completion = client.chat.completions.create(
        model="groq/llama-3.3-70b-versatile", messages=_ask("Hello"), metadata={"team": "a"},
        extra_body={"trace_id": "x" * 200, "provider": "openai", "cache": False, "refresh": True})
    assert completion.choices[0].message.content.startswith("[groq/")


def test_bare_model_names_and_malformed_json_get_answers_that_explain_themselves(service, client):
    for model, provider in (("gpt-4o", "openai"), ("claude-sonnet-4-5", "anthropic"),
                            ("llama-3.3-70b-versatile", "groq")):
        raw = client.chat.completions.with_raw_response.create(model=model, messages=_ask("Hi"))
        assert raw.headers["x-sophia-provider"] == provider and raw.parse().model == model
    with pytest.raises(openai.BadRequestError) as ambiguous:
        client.chat.completions.create(model="mixtral-8x7b-32768", messages=_ask("Hi"))
    assert "'groq/mixtral-8x7b-32768' or 'mistral/mixtral-8x7b-32768'" in ambiguous.value.message
    with pytest.raises(openai.NotFoundError) as unknown:
        client.chat.completions.create(model="no-such-model-42", messages=_ask("Hi"))
    assert "unknown model 'no-such-model-42'" in unknown.value.message
    body = '{"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]'
    with httpx.Client(base_url=service.url, timeout=30) as http:
        broken = http.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
        assert broken.status_code == 400
        assert broken.json()["error"]["message"] == (
            f"request body is not valid JSON (line 1, column {len(body) + 1}): Expecting ',' delimiter")
        multiline = http.post("/v1/chat/completions", content='{\n  "model": "gpt-4o",,\n}',
                              headers={"content-type": "application/json"})
        assert "(line 2, column 21)" in multiline.json()["error"]["message"]


def test_cache_hits_are_counted_apart_from_provider_answers(service):
    request = {"model": "mistral", "messages": _ask("same twice")}
    with httpx.Client(base_url=service.url, timeout=30) as http:
        def count(source: str) -> float:
            return sum(float(line.rsplit(" ", 1)[1]) for line in http.get("/metrics").text.splitlines()
                       if line.startswith("sophia_requests_total{") and 'kind="chat"' in line
                       and 'provider="mistral"' in line and f'source="{source}"' in line)

        before = count("provider"), count("cache")
        assert http.post("/v1/chat/completions", json=request).status_code == 200
        assert http.post("/v1/chat/completions", json=request).status_code == 200
        assert (count("provider"), count("cache")) == (before[0] + 1, before[1] + 1)
