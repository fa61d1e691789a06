"""Auth (bearer tokens), rate limits (memory and Redis-shared, 429 + Retry-After), safe binding."""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest

from app.core.errors import ConfigurationError
from app.service import ServiceConfig, create_app
from tests.e2e.conftest import SOPHIA, make_settings
from tests.support import need_service

pytestmark = pytest.mark.e2e
CHAT = {"model": "groq/llama-3.3-70b-versatile", "messages": [{"role": "user", "content": "hi"}]}


@contextlib.asynccontextmanager
async def running(settings: Any, config: ServiceConfig) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=30) as client:
            yield client


@pytest.fixture
def settings(e2e_env, tmp_path):
    return make_settings(e2e_env, database_url=f"sqlite+aiosqlite:///{tmp_path}/a.db", memory_enabled=False,
                         sophia_data_dir=str(tmp_path))


async def test_tokens_are_required_when_auth_is_on(settings):
    config = ServiceConfig(api_keys=frozenset({"tok-alpha", "tok-beta"}), require_auth=True, health_interval=0)
    async with running(settings, config) as client:
        missing = await client.post("/v1/chat/completions", json=CHAT)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == "Bearer"
        assert missing.json()["error"]["type"] == "authentication_error"
        wrong = await client.get("/v1/models", headers={"Authorization": "Bearer tok-gamma"})
        assert wrong.status_code == 401
        for path in ("/metrics", "/health", "/api/dashboard"):
            assert (await client.get(path)).status_code == 401, path
        assert (await client.get("/")).status_code == 200  # the page holds no data
        ok = await client.post("/v1/chat/completions", json=CHAT, headers={"Authorization": "Bearer tok-beta"})
        assert ok.status_code == 200


async def test_openai_sdk_with_a_token(settings):
    config = ServiceConfig(api_keys=frozenset({"tok-sdk"}), require_auth=True, health_interval=0)
    app = create_app(settings, config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        for key, expected in (("tok-sdk", None), ("bad", openai.AuthenticationError)):
            http = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1/v1")
            client = openai.AsyncOpenAI(base_url="http://127.0.0.1/v1", api_key=key, http_client=http, max_retries=0)
            if expected is None:
                assert (await client.chat.completions.create(**CHAT)).choices[0].message.content
            else:
                with pytest.raises(expected):
                    await client.chat.completions.create(**CHAT)
            await client.close()


async def test_rate_limit_answers_429_with_retry_after(settings):
    config = ServiceConfig(rate_limit="3/minute", health_interval=0, rate_limit_namespace=uuid.uuid4().hex)
    async with running(settings, config) as client:
        statuses = [(await client.get("/v1/models")).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = await client.get("/v1/models")
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert limited.json()["error"]["type"] == "rate_limit_error"


async def test_rate_limits_are_per_token(settings):
    config = ServiceConfig(api_keys=frozenset({"a-token", "b-token"}), require_auth=True, rate_limit="2/minute",
                           health_interval=0, rate_limit_namespace=uuid.uuid4().hex)
    async with running(settings, config) as client:
        a = {"Authorization": "Bearer a-token"}
        b = {"Authorization": "Bearer b-token"}
        assert [(await client.get("/v1/models", headers=a)).status_code for _ in range(3)] == [200, 200, 429]
        assert (await client.get("/v1/models", headers=b)).status_code == 200


async def test_rate_limits_are_shared_through_redis(e2e_env, tmp_path):
    import redis

    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        need_service("Redis at 127.0.0.1:6379", type(exc).__name__)
    settings = make_settings(e2e_env, redis_url="redis://127.0.0.1:6379/0", memory_enabled=False,
                             database_url=f"sqlite+aiosqlite:///{tmp_path}/a.db", sophia_data_dir=str(tmp_path))
    config = ServiceConfig(rate_limit="3/minute", health_interval=0, rate_limit_namespace=f"test-{uuid.uuid4().hex}")
    async with running(settings, config) as one, running(settings, config) as two:
        assert (await one.get("/v1/models")).status_code == 200
        assert (await two.get("/v1/models")).status_code == 200
        assert (await one.get("/v1/models")).status_code == 200
        assert (await two.get("/v1/models")).status_code == 429  # the fourth hit, counted across instances
    client = redis.Redis(host="127.0.0.1", port=6379)
    keys = list(client.scan_iter(f"{config.rate_limit_namespace}*"))
    if keys:
        client.delete(*keys)


def test_binding_beyond_loopback_requires_keys(tmp_path):
    with pytest.raises(ConfigurationError) as refused:
        ServiceConfig(host="0.0.0.0").checked()
    assert "SOPHIA_API_KEYS" in str(refused.value)
    assert ServiceConfig(host="0.0.0.0", api_keys=frozenset({"k"})).checked().auth_enabled
    cli = subprocess.run([str(SOPHIA), "serve", "--host", "0.0.0.0", "--port", "9"], check=False,
                         capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
                         cwd=tmp_path)
    assert cli.returncode == 2
    assert "SOPHIA_API_KEYS" in cli.stderr


async def test_health_is_503_when_the_gateway_is_down_and_requests_say_why(tmp_path):
    settings = make_settings({"PORTKEY_BASE_URL": "http://127.0.0.1:9/v1", "GROQ_API_KEY": "gsk_0123456789abcdef0"},
                             database_url=f"sqlite+aiosqlite:///{tmp_path}/a.db", memory_enabled=False,
                             sophia_data_dir=str(tmp_path))
    async with running(settings, ServiceConfig(health_interval=0)) as client:
        health = await client.get("/health")
        assert health.status_code == 503 and health.json()["status"] == "down"
        down = await client.post("/v1/chat/completions", json=CHAT)
        assert down.status_code == 503 and down.json()["error"]["code"] == "gateway_unavailable"
        missing = await client.post("/v1/chat/completions", json={**CHAT, "model": "openai/gpt-4o",
                                                                     "fallbacks": []})
        assert missing.status_code == 503
        assert missing.json()["error"]["env_vars"] == ["OPENAI_API_KEY"]
