import json

import pytest

from app.core.errors import InvalidRequestError, ProviderNotConfiguredError, UnknownProviderError
from app.core.keys import KeyKind, resolve_credential
from app.core.providers import DEFAULT_FALLBACKS, PROVIDERS, get_provider
from app.core.routing import Capability, Router, TargetSpec
from app.core.settings import load_settings


def router(**kw):
    return Router(load_settings(_env_file=None, **kw))


def test_catalog_has_the_seven_providers_with_distinct_env_names():
    assert list(PROVIDERS) == ["openai", "anthropic", "deepseek", "groq", "mistral", "together", "perplexity"]
    envs = [p.api_key_env for p in PROVIDERS.values()] + [p.vk_env for p in PROVIDERS.values()]
    assert len(set(envs)) == 14
    assert get_provider("mistral-ai") is PROVIDERS["mistral"]  # slug lookup
    for name, fallbacks in DEFAULT_FALLBACKS.items():
        assert name not in fallbacks and set(fallbacks) <= set(PROVIDERS)


def test_unknown_provider_lists_known_ones():
    with pytest.raises(UnknownProviderError, match="known providers: openai"):
        get_provider("openia")


@pytest.mark.parametrize(
    ("provider", "base", "host"),
    [
        ("openai", "http://127.0.0.1:1/openai/v1", "http://127.0.0.1:1/openai/v1"),
        ("groq", "http://127.0.0.1:1/groq/v1/", "http://127.0.0.1:1/groq/v1"),
        ("deepseek", "http://127.0.0.1:1/deepseek/v1", "http://127.0.0.1:1/deepseek"),
        ("together", "http://127.0.0.1:1/together/v1", "http://127.0.0.1:1/together"),
        ("anthropic", "http://127.0.0.1:1/anthropic/v1", "http://127.0.0.1:1/anthropic/v1"),
    ],
)
def test_custom_host_quirks(provider, base, host):
    assert PROVIDERS[provider].custom_host(base) == host


def test_self_hosted_uses_api_keys_and_ignores_virtual_keys():
    s = load_settings(_env_file=None, openai_api_key="sk-abc123def456ghi789", anthropic_vk="anthropic-vk-1a2b3c")
    openai = resolve_credential(s.provider(PROVIDERS["openai"]), hosted=False)
    anthropic = resolve_credential(s.provider(PROVIDERS["anthropic"]), hosted=False)
    assert openai.credential.kind is KeyKind.API_KEY
    assert not anthropic.configured and "PORTKEY_API_KEY" in anthropic.reason


def test_hosted_prefers_virtual_keys():
    s = load_settings(_env_file=None, portkey_api_key="pk-live-123456789", openai_vk="openai-vk-7f3a9c",
                      openai_api_key="sk-abc123def456ghi789")
    r = resolve_credential(s.provider(PROVIDERS["openai"]), hosted=True)
    assert r.credential.kind is KeyKind.VIRTUAL_KEY


def test_placeholder_keys_are_not_configured():
    s = load_settings(_env_file=None, portkey_api_key="pk-live-123456789", openai_vk="openai-vk-xxxxx")
    r = resolve_credential(s.provider(PROVIDERS["openai"]), hosted=True)
    assert not r.configured and "placeholder" in r.reason


def test_default_chain_leaves_out_unconfigured_providers_with_one_warning(caplog):
    r = router(openai_api_key="sk-abc123def456ghi789", deepseek_api_key="sk-ds123def456ghi789")
    chain = r.build(r.requested("openai", "gpt-4-turbo", None))
    assert [t.label for t in chain.targets] == ["openai/gpt-4-turbo", "deepseek/deepseek-chat"]
    assert chain.skipped == (("anthropic", "ANTHROPIC_API_KEY not set"),)
    r.build(r.requested("openai", None, None))
    assert len([m for m in caplog.messages if "anthropic" in m]) == 1


def test_unconfigured_chain_names_env_vars():
    r = router()
    with pytest.raises(ProviderNotConfiguredError) as info:
        r.build(r.requested("groq", None, ["together"]))
    assert {"GROQ_API_KEY", "TOGETHER_API_KEY"} <= set(info.value.env_vars)
    assert "GROQ_API_KEY" in str(info.value)


def test_fallbacks_override_and_disable():
    r = router(openai_api_key="sk-abc123def456ghi789", groq_api_key="gsk_abc123def456ghi789",
               together_api_key="tg-abc123def456ghi789")
    chain = r.build(r.requested("openai", None, ["groq/llama-3.1-8b-instant",
                                                 {"provider": "together", "model": "meta-llama/X"}]))
    assert [t.label for t in chain.targets] == ["openai/gpt-4o", "groq/llama-3.1-8b-instant", "together/meta-llama/X"]
    assert len(r.build(r.requested("openai", None, [])).targets) == 1
    off = router(openai_api_key="sk-abc123def456ghi789", enable_fallback=False)
    assert len(off.build(off.requested("openai", None, None)).targets) == 1
    with pytest.raises(InvalidRequestError):
        r.requested("openai", None, "groq")


def test_embedding_chains_skip_providers_without_embeddings():
    r = router(openai_api_key="sk-abc123def456ghi789", anthropic_api_key="sk-ant-abc123def456")
    chain = r.build([TargetSpec(PROVIDERS["anthropic"]), TargetSpec(PROVIDERS["openai"])], Capability.EMBEDDING)
    assert [t.label for t in chain.targets] == ["openai/text-embedding-3-small"]


def test_config_compiles_to_one_fallback_config():
    r = router(openai_api_key="sk-abc123def456ghi789", anthropic_api_key="sk-ant-abc123def456",
               anthropic_base_url="http://127.0.0.1:9/anthropic/v1", max_retries=2, request_timeout=7.5)
    chain = r.build(r.requested("openai", "gpt-4o-mini", ["anthropic"]))
    config = json.loads(r.portkey_config(chain))
    assert config["strategy"] == {"mode": "fallback"}
    first, second = config["targets"]
    assert first == {"provider": "openai", "api_key": "sk-abc123def456ghi789",
                     "override_params": {"model": "gpt-4o-mini"}, "request_timeout": 7500,
                     "retry": {"attempts": 2, "on_status_codes": [429, 500, 502, 503, 504]}}
    assert second["custom_host"] == "http://127.0.0.1:9/anthropic/v1"
    assert second["override_params"] == {"model": "claude-sonnet-4-5"}


def test_hosted_config_uses_virtual_keys_and_no_retry_block_when_zero():
    r = router(portkey_api_key="pk-live-123456789", openai_vk="openai-vk-7f3a9c", max_retries=0)
    config = json.loads(r.portkey_config(r.build(r.requested("openai", None, []))))
    assert config["targets"] == [{"virtual_key": "openai-vk-7f3a9c", "override_params": {"model": "gpt-4o"},
                                  "request_timeout": 60000}]
