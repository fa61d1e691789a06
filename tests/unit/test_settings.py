import pytest

from app.core.errors import ConfigurationError
from app.core.settings import HOSTED_BASE_URL, LOCAL_BASE_URL, load_settings


def settings(**kw):
    return load_settings(_env_file=None, **kw)


def test_defaults_are_the_spec_recommended_settings():
    s = settings()
    assert (s.max_retries, s.request_timeout, s.cache_ttl, s.enable_fallback) == (3, 60.0, 3600, True)
    assert not s.hosted and s.gateway_url == LOCAL_BASE_URL


def test_hosted_when_portkey_key_set():
    s = settings(portkey_api_key="pk-live-abcdef123456")
    assert s.hosted and s.gateway_url == HOSTED_BASE_URL


def test_env_variables_are_read(monkeypatch):
    monkeypatch.setenv("MAX_RETRIES", "1")
    monkeypatch.setenv("GROQ_API_KEY", "gsk_realistic_key_value_123")
    monkeypatch.setenv("GROQ_BASE_URL", "http://127.0.0.1:9000/groq/v1/")
    monkeypatch.setenv("GROQ_MODEL", "llama-3.1-8b-instant")
    s = settings()
    ps = s.provider(__import__("app.core.providers", fromlist=["x"]).PROVIDERS["groq"])
    assert s.max_retries == 1
    assert ps.base_url == "http://127.0.0.1:9000/groq/v1" and ps.base_url_overridden
    assert ps.chat_model == "llama-3.1-8b-instant"
    assert ps.api_key.get_secret_value() == "gsk_realistic_key_value_123"


def test_env_file_is_read(tmp_path, monkeypatch):
    env = tmp_path / ".env"
    env.write_text("DEEPSEEK_API_KEY=sk-test-deepseek-file-value\nCACHE_TTL=60\nOPENAI_VK=\n")
    s = load_settings(_env_file=str(env))
    assert s.cache_ttl == 60 and s.deepseek_api_key.get_secret_value().startswith("sk-test-deepseek")
    assert s.openai_vk is None  # empty values mean unset


@pytest.mark.parametrize(
    ("var", "value", "needle"),
    [
        ("MAX_RETRIES", "ten", "MAX_RETRIES"),
        ("MAX_RETRIES", "9", "MAX_RETRIES"),
        ("REQUEST_TIMEOUT", "-3", "REQUEST_TIMEOUT"),
        ("CACHE_TTL", "-1", "CACHE_TTL"),
        ("ENABLE_FALLBACK", "perhaps", "ENABLE_FALLBACK"),
        ("PORTKEY_BASE_URL", "api.portkey.ai", "PORTKEY_BASE_URL"),
        ("MISTRAL_BASE_URL", "ftp://x", "MISTRAL_BASE_URL"),
    ],
)
def test_bad_values_name_the_variable(monkeypatch, var, value, needle):
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigurationError) as info:
        settings()
    assert needle in str(info.value) and needle in info.value.env_vars
    assert value not in str(info.value).replace(needle, "")  # the bad value itself is never echoed


def test_secrets_never_print():
    s = settings(openai_api_key="sk-test-supersecretvalue123", portkey_api_key="pk-secret-abcdef-123456")
    for text in (repr(s), str(s), str(s.model_dump())):
        assert "supersecret" not in text and "pk-secret" not in text
