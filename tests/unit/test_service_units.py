"""Service pieces without a network: model names, error mapping, config safety, auth, body limits."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from app.core import errors as e
from app.core.model_names import list_models, resolve_model
from app.core.results import Attempt
from app.core.settings import load_settings
from app.routing import load_policy
from app.service.config import ServiceConfig, is_loopback
from app.service.errors import describe, error_body
from app.service.security import Authenticator, BodyLimitMiddleware, Unauthorized


def _settings(**kw):
    return load_settings(_env_file=None, **kw)


POLICY = load_policy(_settings())


def test_provider_models_split_on_the_first_slash_only():
    route = resolve_model("together/meta-llama/Llama-3.3-70B-Instruct-Turbo", POLICY)
    assert route.call() == {"provider": "together/meta-llama/Llama-3.3-70B-Instruct-Turbo", "fallbacks": None}
    assert resolve_model("groq", POLICY).call() == {"provider": "groq", "fallbacks": None}
    assert resolve_model("groq", POLICY).call(["mistral"]) == {"provider": "groq", "fallbacks": ["mistral"]}


def test_role_models_use_the_roles_strategy():
    route = resolve_model("artemis/Code_Reviewer", POLICY)
    assert route.call() == {"role": "artemis/code_reviewer"}
    assert route.metadata == {"domain": "artemis", "role": "code_reviewer"}
    with pytest.raises(e.InvalidRequestError, match="fallbacks applies to a provider model"):
        route.call(["groq"])


def test_bare_model_names_go_to_the_provider_that_serves_them():
    none = _settings()
    assert resolve_model("gpt-4o", POLICY, none).provider == "openai/gpt-4o"
    assert resolve_model("claude-sonnet-4-5", POLICY, none).provider == "anthropic/claude-sonnet-4-5"
    assert resolve_model("llama-3.3-70b-versatile", POLICY, none).provider == "groq/llama-3.3-70b-versatile"
    assert resolve_model("meta-llama/Llama-3.3-70B-Instruct-Turbo", POLICY, none).provider == (
        "together/meta-llama/Llama-3.3-70B-Instruct-Turbo")
    assert resolve_model("gpt-4o", POLICY, none).call() == {"provider": "openai/gpt-4o", "fallbacks": None}, (
        "the provider's usual fallbacks follow")
    # Served by two providers (the price tables list it for both): the configured one wins...
    groq_only = _settings(groq_api_key="gsk_0123456789abcdef0123")
    assert resolve_model("mixtral-8x7b-32768", POLICY, groq_only).provider == "groq/mixtral-8x7b-32768"
    # ...and with both configured (or neither) the error lists the choices.
    both = _settings(groq_api_key="gsk_0123456789abcdef0123", mistral_api_key="mistral0123456789abcdef0123")
    for settings in (both, none):
        with pytest.raises(e.InvalidRequestError, match="'groq/mixtral-8x7b-32768' or 'mistral/mixtral-8x7b-32768'"):
            resolve_model("mixtral-8x7b-32768", POLICY, settings)


def test_unknown_models_are_typed_errors():
    with pytest.raises(e.UnknownModelError, match="unknown model 'no-such-model-42'"):
        resolve_model("no-such-model-42", POLICY, _settings())
    with pytest.raises(e.UnknownProviderError):
        resolve_model("gpt-4o", POLICY)  # without settings, no bare names
    with pytest.raises(e.InvalidRequestError, match="artemis roles: code_reviewer, security_auditor"):
        resolve_model("artemis/chef", POLICY)
    with pytest.raises(e.InvalidRequestError, match="unknown route 'nope'"):
        resolve_model("route/nope", POLICY)
    with pytest.raises(e.InvalidRequestError):
        resolve_model("", POLICY)


def test_model_list_marks_what_can_be_served():
    from app.core.routing import Router

    models = {m["id"]: m for m in list_models(Router(_settings(groq_api_key="gsk_0123456789abcdef0123")), POLICY)}
    assert models["groq/llama-3.3-70b-versatile"]["available"]
    assert not models["openai/gpt-4o"]["available"]
    assert models["artemis/vulnerability_scanner"]["available"] and not models["artemis/code_reviewer"]["available"]


@pytest.mark.parametrize(("exc", "status", "code"), [
    (e.InvalidRequestError("bad"), 400, "invalid_request"),
    (e.UnknownProviderError("x", known=["groq"]), 404, "model_not_found"),
    (e.UnknownModelError("x", known=["groq"]), 404, "model_not_found"),
    (e.ProviderNotConfiguredError(["groq"], ["GROQ_API_KEY"]), 503, "provider_not_configured"),
    (e.GatewayUnavailableError("http://127.0.0.1:1/v1", "refused"), 503, "gateway_unavailable"),
    (e.GatewayTimeoutError("http://127.0.0.1:1/v1", 60), 504, "gateway_timeout"),
    (e.RateLimitError("slow down", provider="groq"), 429, "provider_error"),
    (e.AuthenticationError("bad key", provider="groq"), 502, "provider_error"),
    (e.ProviderServerError("boom", provider="groq", status=503), 503, "provider_error"),
    (e.AllProvidersFailedError([Attempt(provider="groq", model="m", status=500)], status=500, trace_id="t"),
     502, "all_providers_failed"),
])
def test_errors_map_to_openai_statuses(exc, status, code):
    got_status, got_code, extra = describe(exc)
    assert (got_status, got_code) == (status, code)
    if code == "all_providers_failed":
        assert extra["attempts"][0]["provider"] == "groq"
    if code == "provider_not_configured":
        assert extra["env_vars"] == ["GROQ_API_KEY"]


def test_error_body_is_openai_shaped_and_redacted():
    body = error_body(401, "Incorrect API key provided: sk-abcdef123456789")
    assert body["error"]["type"] == "authentication_error"
    assert "sk-abcdef123456789" not in body["error"]["message"]


def test_config_refuses_public_binds_without_keys_and_bad_rates():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    with pytest.raises(e.ConfigurationError, match="SOPHIA_API_KEYS"):
        ServiceConfig(host="192.168.1.5").checked()
    with pytest.raises(e.ConfigurationError, match="SOPHIA_RATE_LIMIT"):
        ServiceConfig(rate_limit="lots").checked()
    config = ServiceConfig.from_settings(_settings(sophia_api_keys=" a1 , b2,", sophia_rate_limit="5/second"))
    assert config.api_keys == frozenset({"a1", "b2"}) and config.auth_enabled and config.rate_limit == "5/second"
    assert "a1" not in repr(config)
    assert not ServiceConfig().auth_enabled


def test_authenticator():
    open_ = Authenticator([], enabled=False)
    assert open_.identify(None, "127.0.0.1") == "ip:127.0.0.1"
    auth = Authenticator(["secret-1"], enabled=True)
    identity = auth.identify("Bearer secret-1", "127.0.0.1")
    assert identity.startswith("token:") and "secret-1" not in identity
    for header in (None, "Bearer", "Basic secret-1", "Bearer secret-2"):
        with pytest.raises(Unauthorized):
            auth.identify(header, "127.0.0.1")


async def test_body_limit_by_length_and_by_counting():
    inner = FastAPI()

    @inner.post("/echo")
    async def echo(body: dict) -> dict:
        return {"size": len(str(body))}

    app = BodyLimitMiddleware(inner, max_bytes=1024)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.post("/echo", json={"a": "x" * 100})).status_code == 200
        big = await client.post("/echo", json={"a": "x" * 2000})
        assert big.status_code == 413 and big.json()["error"]["code"] == "request_too_large"

        async def chunks():
            yield b'{"a": "'
            yield b"x" * 2000
            yield b'"}'

        assert (await client.post("/echo", content=chunks())).status_code == 413

        async def small():
            yield b'{"a": 1}'

        assert (await client.post("/echo", content=small(), headers={"content-type": "application/json"})
                ).status_code == 200


async def test_the_dashboard_documents_tile_survives_a_failing_store():
    from app.documents.qdrant_backend import QdrantDocuments
    from app.documents.store import DocumentStore
    from app.service.ops_routes import documents_summary
    from tests.unit.test_memory import BrokenStore, CountingEmbedder

    vectors = BrokenStore()
    try:
        summary = await documents_summary(DocumentStore(QdrantDocuments(vectors), CountingEmbedder()))
    finally:
        vectors.close()
    assert summary == {"sources": None, "chunks": None, "last_added_at": None,
                       "error": "document store unavailable (VectorStoreError)"}


def test_moving_window_allows_the_limit_per_window_and_forgets_quiet_callers():
    from app.service.moving_window import MovingWindow

    window = MovingWindow(3, 60)
    assert [window.hit("a", t) for t in (0, 1, 2)] == [None, None, None]
    assert window.hit("a", 3) == 57  # refused: the hit at t=0 leaves the window at t=60
    assert window.hit("b", 3) is None  # each caller has its own window
    assert window.hit("a", 60) is None  # t=0 left; the refused hit at t=3 was not counted
    assert window.hit("a", 61.5) is None  # t=1 left
    assert window.hit("a", 61.75) == 0.25  # 2, 60 and 61.5 are in the window; t=2 leaves it at 62
    assert window.callers == 2
    assert window.hit("c", 200) is None  # once per window, callers gone quiet are forgotten
    assert window.callers == 1


def test_request_dependencies_run_on_the_event_loop():
    # FastAPI runs a plain-function dependency on a worker thread: a thread hop on every request.
    import importlib
    import inspect
    import pkgutil

    from fastapi.routing import APIRoute

    import app.service

    def calls(dependant):
        for dependency in dependant.dependencies:
            yield dependency.call
            yield from calls(dependency)

    modules = [importlib.import_module(f"app.service.{m.name}") for m in pkgutil.iter_modules(app.service.__path__)]
    routes = [r for m in modules if hasattr(m, "router") for r in m.router.routes if isinstance(r, APIRoute)]
    names = {c.__name__ for r in routes for c in calls(r.dependant)}
    assert {"rate_limited", "authenticated", "_get_state"} <= names
    sync = {f"{r.path}: {c.__name__}" for r in routes for c in calls(r.dependant) if not inspect.iscoroutinefunction(c)}
    assert not sync


def test_settling_the_collector_freezes_start_up_and_collects_the_young_less_often():
    # In a child process: freezing and thresholds are the whole process's, not this test session's.
    import subprocess
    import sys

    code = ("import gc; from app.service.collector import settle_after_start_up, YOUNG_THRESHOLD; "
            "before = len(gc.get_objects()); frozen = settle_after_start_up(); "
            "assert frozen > before / 2 and len(gc.get_objects()) < before / 10, (before, frozen); "
            "assert gc.get_threshold()[0] == YOUNG_THRESHOLD")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_only_the_service_s_own_process_settles_the_collector():
    from app.service.config import ServiceConfig

    assert not ServiceConfig().settle_collector  # an app built in a test or another program leaves gc alone


def test_the_answer_s_json_is_what_as_dict_gives_serialised_in_one_pass():
    import json

    from app.core.results import ChatCompletion, RoutingInfo, Usage, as_dict, as_json

    completion = ChatCompletion.model_validate_json(json.dumps({
        "id": "c1", "object": "chat.completion", "created": 1, "model": "sonar-pro", "system_fingerprint": None,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Grüße \u2603", "refusal": None},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}, "citations": ["https://a.example"],
    }))
    completion.routing = RoutingInfo(provider="perplexity", model="sonar-pro", fallback_used=True, latency_ms=1.5,
                                     attempts=[Attempt(provider="openai", model="gpt-4o", status=503)],
                                     usage=Usage(prompt_tokens=3, completion_tokens=4, total_tokens=7), trace_id="t")
    assert json.loads(as_json(completion)) == as_dict(completion)
    assert "refusal" not in as_json(completion).decode() and "Grüße" in as_json(completion).decode()
