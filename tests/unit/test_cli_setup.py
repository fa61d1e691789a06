"""The setup tool's pure parts: validation, interactive prompts, .env merging and safe writing."""

from __future__ import annotations

import stat

import pytest

from app.cli.setup_keys import (
    HEADER,
    SetupError,
    collect_interactive,
    collect_non_interactive,
    merge_env,
    validate,
    write_env,
)


def test_validate_accepts_documented_shapes_and_names_bad_variables_only():
    good = validate({"OPENAI_API_KEY": "sk-test-proj-abcdefghijkl", "GROQ_API_KEY": "gsk_abcdefghijklmnop1234",
                     "PORTKEY_BASE_URL": "http://127.0.0.1:8787/v1", "MISTRAL_API_KEY": ""})
    assert set(good) == {"OPENAI_API_KEY", "GROQ_API_KEY", "PORTKEY_BASE_URL"}
    with pytest.raises(SetupError) as bad:
        validate({"ANTHROPIC_API_KEY": "sk-notanthropic-1234567890", "OPENAI_VK": "openai-vk-xxxxx",
                  "PORTKEY_BASE_URL": "api.portkey.ai", "NOT_OURS": "x"})
    text = str(bad.value)
    assert "ANTHROPIC_API_KEY: does not look like a Anthropic API key (starts with sk-ant-)" in text
    assert "OPENAI_VK: looks like a placeholder" in text
    assert "PORTKEY_BASE_URL: must be an http" in text and "NOT_OURS" in text
    assert "sk-notanthropic" not in text


def test_interactive_hides_keys_and_asks_again_after_a_bad_one():
    hidden = iter(["", "xx-1234567890abcdefgh", "sk-good0123456789abcdef", "", "", "gsk_0123456789abcdef0123", "", "", ""])
    plain = iter(["", "", "", "", ""])  # the gateway URL, then the four store settings left at their defaults
    said: list[str] = []
    values = collect_interactive(ask=lambda _: next(hidden), ask_plain=lambda _: next(plain), say=said.append)
    assert values == {"OPENAI_API_KEY": "sk-good0123456789abcdef", "GROQ_API_KEY": "gsk_0123456789abcdef0123"}
    assert any("OPENAI_API_KEY does not look like" in s for s in said)


def test_interactive_hosted_asks_for_virtual_keys():
    hidden = iter(["pk-portkey-0123456789", "openai-vk-abc123def", "", "", "", "", "", ""])
    values = collect_interactive(ask=lambda _: next(hidden), ask_plain=lambda _: "", say=lambda _: None)
    assert values == {"PORTKEY_API_KEY": "pk-portkey-0123456789", "PORTKEY_BASE_URL": "https://api.portkey.ai/v1",
                      "OPENAI_VK": "openai-vk-abc123def"}


def test_interactive_asks_for_the_vector_databases_and_their_keys():
    hidden = iter(["", "", "", "", "gsk_0123456789abcdef0123", "", "", "", "qdrant-secret-key-0123"])
    plain = iter(["", "https://qdrant.example.com:6333", "your_weaviate_url", "", "/srv/milvus/memory.db",
                  "redis://127.0.0.1:6379/0"])
    said: list[str] = []
    values = collect_interactive(ask=lambda _: next(hidden), ask_plain=lambda _: next(plain), say=said.append)
    assert values == {"GROQ_API_KEY": "gsk_0123456789abcdef0123", "QDRANT_URL": "https://qdrant.example.com:6333",
                      "QDRANT_API_KEY": "qdrant-secret-key-0123", "MILVUS_URI": "/srv/milvus/memory.db",
                      "REDIS_URL": "redis://127.0.0.1:6379/0"}
    assert any("WEAVIATE_URL looks like a placeholder" in s for s in said), "a copied template value is refused"
    with pytest.raises(SetupError, match="MILVUS_URI: must be a Milvus server URL"):
        validate({"MILVUS_URI": "milvus"})


def test_non_interactive_reads_the_environment_then_flags():
    values = collect_non_interactive(["groq_api_key=gsk_flag0123456789abcd"],
                                     {"GROQ_API_KEY": "gsk_env", "OPENAI_API_KEY": "sk-env", "HOME": "/x"})
    assert values == {"GROQ_API_KEY": "gsk_flag0123456789abcd", "OPENAI_API_KEY": "sk-env"}
    with pytest.raises(SetupError):
        collect_non_interactive(["GROQ_API_KEY"], {})


def test_merge_keeps_unmanaged_lines_and_updates_in_place():
    existing = "# notes\nexport GROQ_API_KEY=old\nOTHER=1\n"
    merged = merge_env(existing, {"GROQ_API_KEY": "new", "OPENAI_API_KEY": "sk-x"})
    assert merged == f"# notes\nGROQ_API_KEY=new\nOTHER=1\n\n{HEADER}\nOPENAI_API_KEY=sk-x\n"


def test_write_env_is_0600_and_needs_force(tmp_path):
    path = tmp_path / ".env"
    write_env(path, {"GROQ_API_KEY": "gsk_a"}, force=False)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(SetupError) as refused:
        write_env(path, {"GROQ_API_KEY": "gsk_b"}, force=False)
    assert refused.value.code == 1
    path.chmod(0o644)
    write_env(path, {"GROQ_API_KEY": "gsk_b"}, force=True)
    assert "GROQ_API_KEY=gsk_b" in path.read_text() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [".env"]
