"""Unit tests of the cache's pieces: keys, the embedded backend, literals, the semantic index, entries."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from app.cache import MemoryBackend, cache_key, chat_request_hash
from app.cache.entries import assemble, pack_vector, replay, unpack_completion, unpack_vector
from app.cache.keys import UncacheableRequest, canonical_json, owner
from app.cache.literals import literals, normalise
from app.cache.response_cache import semantic_question
from app.cache.semantic import SemanticIndex
from app.core.errors import ConfigurationError
from app.core.results import ChatCompletion, ChatCompletionChunk, Usage
from app.core.settings import load_settings
from app.routing import load_policy

CHAIN = [("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4-5")]
MESSAGES = [{"role": "user", "content": "Hello"}]


# ----- keys ---------------------------------------------------------------------------------------

def test_canonical_json_sorts_keys_without_whitespace():
    assert canonical_json({"b": 1, "a": {"d": [1, 2], "c": "é"}}) == '{"a":{"c":"é","d":[1,2]},"b":1}'


def test_request_hash_covers_what_changes_the_answer():
    base = chat_request_hash(CHAIN, MESSAGES, {"temperature": 0.2})
    assert base == chat_request_hash(CHAIN, [dict(MESSAGES[0])], {"temperature": 0.2})
    assert len(base) == 64
    different = [
        chat_request_hash(CHAIN[:1], MESSAGES, {"temperature": 0.2}),
        chat_request_hash(CHAIN[::-1], MESSAGES, {"temperature": 0.2}),
        chat_request_hash(CHAIN, [{"role": "user", "content": "Hello!"}], {"temperature": 0.2}),
        chat_request_hash(CHAIN, MESSAGES, {"temperature": 0.3}),
        chat_request_hash(CHAIN, MESSAGES, {"temperature": 0.2, "max_tokens": 10}),
        chat_request_hash(CHAIN, MESSAGES, {"temperature": 0.2, "tools": [{"type": "function"}]}),
        chat_request_hash(CHAIN, MESSAGES, {"temperature": 0.2, "response_format": {"type": "json_object"}}),
    ]
    assert len({base, *different}) == len(different) + 1
    # How the answer travels is not part of it.
    assert base == chat_request_hash(CHAIN, MESSAGES, {"temperature": 0.2, "stream": True,
                                                       "stream_options": {"include_usage": True}})


def test_request_hash_is_the_same_in_another_process():
    code = ("from app.cache import chat_request_hash; "
            f"print(chat_request_hash({CHAIN!r}, {MESSAGES!r}, {{'temperature': 0.2, 'stop': ['x']}}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "12345", "PATH": ""}).stdout.strip()
    assert out == chat_request_hash(CHAIN, MESSAGES, {"temperature": 0.2, "stop": ["x"]})


def test_unkeyable_params_are_refused():
    with pytest.raises(UncacheableRequest):
        chat_request_hash(CHAIN, MESSAGES, {"temperature": float("nan")})
    with pytest.raises(UncacheableRequest):
        chat_request_hash(CHAIN, MESSAGES, {"thing": object()})


def test_key_format_and_owner_placeholders():
    assert owner(None) == ("core", "-")
    assert owner({"domain": "artemis", "agent_id": "a1", "role": "x"}) == ("artemis", "a1")
    assert owner({"domain": "evil:domain"}) == ("evil_domain", "-")
    assert cache_key("sophia", "a1", "f" * 64) == f"sophia:a1:{'f' * 64}"


# ----- the embedded backend ----------------------------------------------------------------------

async def test_memory_backend_honours_ttl_with_an_injected_clock():
    now = [0.0]
    backend = MemoryBackend(clock=lambda: now[0])
    await backend.set("k", b"v", ttl=10)
    now[0] = 9.99
    assert await backend.get("k") == b"v"
    now[0] = 10.0
    assert await backend.get("k") is None and len(backend) == 0


async def test_memory_backend_evicts_the_least_recently_used():
    backend = MemoryBackend(max_entries=2)
    await backend.set_many({"a": b"1", "b": b"2"}, ttl=60)
    assert await backend.get("a") == b"1"  # a is now more recent than b
    await backend.set("c", b"3", ttl=60)
    assert await backend.get_many(["a", "b", "c"]) == [b"1", None, b"3"]


# ----- literals ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("What is the capital of France?", ("France",)),
    ("Which city is the capital of France?", ("France",)),
    ("What was our revenue growth in Q3 2024?", ("Q3", "2024")),
    ("Benefits of TypeScript over JavaScript?", ("benefits", "TypeScript", "over", "JavaScript")),
    ("How do I reverse a list? I mean in-place.", ()),
    ("Review this:\ndef add(a, b):\n    return a + b", ("def add(a, b):", "return a + b")),
    ("Explain:\n```\nx = 1\n```", ("```", "x = 1", "```")),
    ("Convert $100 to EUR - quickly", ("$100", "EUR", "-")),
    ("Is coffee Good for your health?", ("good",)),
    ("How can we increase customer churn?", ("increase",)),
])
def test_literals(text, expected):
    assert literals(text) == expected


def test_normalise_drops_trailing_punctuation_and_extra_space():
    assert normalise("  What is  the capital\nof France?? ") == "What is the capital of France"


def test_only_single_turn_conversations_qualify_for_semantic_matching():
    def question(messages):
        return semantic_question("core", "-", CHAIN, messages, {}, "local/x")

    user = {"role": "user", "content": "What is the capital of France?"}
    system = {"role": "system", "content": "Be brief."}
    assert question([user]) is not None and question([system, user]) is not None
    assert question([system, user]).scope != question([user]).scope
    assert question([user, {"role": "assistant", "content": "Paris"}, user]) is None
    assert question([system, system, user]) is None
    assert question([{"role": "user", "content": [{"type": "text", "text": "hi"}]}]) is None
    assert question([user]).scope != semantic_question("core", "-", CHAIN, [user], {"max_tokens": 5},
                                                       "local/x").scope


# ----- the semantic index -------------------------------------------------------------------------

def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_semantic_index_finds_the_nearest_live_entry_of_its_scope():
    now = [0.0]
    index = SemanticIndex(clock=lambda: now[0])
    index.add("s", unit(1, 0, 0), "k1", ttl=10)
    index.add("s", unit(0, 1, 0), "k2", ttl=20)
    index.add("other", unit(1, 1, 0), "k3", ttl=20)
    key, score = index.search("s", unit(1, 0.1, 0))
    assert key == "k1" and score == pytest.approx(0.995, abs=1e-3)
    now[0] = 10
    assert index.search("s", unit(1, 0.1, 0))[0] == "k2"  # k1 expired
    assert index.search("none", unit(1, 0, 0)) is None
    index.discard("s", "k2")
    index.discard("s", "k1")
    assert index.search("s", unit(1, 0, 0)) is None and len(index) == 1


def test_semantic_index_stays_bounded_and_grows_its_matrix():
    now = [0.0]
    index = SemanticIndex(max_entries=40, clock=lambda: now[0])
    for i in range(50):
        now[0] = i
        index.add("s", unit(1, i, 0), f"k{i}", ttl=100)
    assert len(index) == 40
    assert index.search("s", unit(1, 0, 0))[0] == "k10"  # k0..k9, the oldest, were evicted
    index.add("s", unit(0, 0, 1), "k49", ttl=100)  # a known key is updated in place
    assert len(index) == 40 and index.search("s", unit(0, 0, 1)) == ("k49", pytest.approx(1.0))


# ----- entries --------------------------------------------------------------------------------------

def chunk(**fields) -> ChatCompletionChunk:
    return ChatCompletionChunk.model_validate({"id": "c1", "created": 1, "model": "m", **fields})


def test_a_finished_stream_assembles_into_a_whole_answer_and_replays():
    chunks = [
        chunk(choices=[{"index": 0, "delta": {"role": "assistant", "content": ""}}]),
        chunk(choices=[{"index": 0, "delta": {"content": "Hello "}}]),
        chunk(choices=[{"index": 0, "delta": {"content": "world"}, "finish_reason": "stop"}], citations=["u"]),
        chunk(choices=[], usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}),
    ]
    whole = assemble(chunks, Usage(prompt_tokens=1, completion_tokens=2, total_tokens=3))
    assert whole.content == "Hello world" and whole.choices[0].finish_reason == "stop"
    assert whole.model_extra["citations"] == ["u"] and whole.usage.total_tokens == 3
    replayed = replay(whole)
    assert "".join(c.text for c in replayed) == "Hello world"
    assert replayed[-1].choices[0].finish_reason == "stop" and replayed[-1].usage.total_tokens == 3


def test_streams_with_tool_calls_are_not_assembled():
    calls = [{"index": 0, "id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    assert assemble([chunk(choices=[{"index": 0, "delta": {"tool_calls": calls}}])], None) is None


def test_a_cached_tool_call_replays_with_stream_indexes():
    completion = ChatCompletion.model_validate({"choices": [{"message": {
        "role": "assistant", "content": None,
        "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        "finish_reason": "tool_calls"}]})
    first = replay(completion)[0]
    assert first.choices[0].delta.model_extra["tool_calls"][0]["index"] == 0


def test_vectors_pack_exactly_and_bad_entries_read_as_misses():
    vector = [0.1, -0.2, 1e-9]
    assert unpack_vector(pack_vector(vector)) == vector
    assert unpack_vector(b"abc") is None
    assert unpack_completion(b"not json") is None and unpack_completion(b'{"x": 1}') is None


# ----- settings ------------------------------------------------------------------------------------

def test_cache_settings():
    settings = load_settings(_env_file=None)
    assert (settings.cache_ttl, settings.cache_max_entries, settings.semantic_cache,
            settings.semantic_cache_threshold, settings.semantic_cache_roles) == (3600, 10_000, False, 0.95, [])
    assert load_settings(_env_file=None, semantic_cache_roles=["sophia/market_analyst"]).semantic_cache_roles
    with pytest.raises(ConfigurationError) as caught:
        load_settings(_env_file=None, semantic_cache_roles=["nobody"])
    assert caught.value.env_vars == ("SEMANTIC_CACHE_ROLES",)
    with pytest.raises(ConfigurationError) as caught:  # whether the role exists, the routing policy knows
        load_policy(load_settings(_env_file=None, semantic_cache_roles=["sophia/nobody"]))
    assert caught.value.env_vars == ("SEMANTIC_CACHE_ROLES",)
    with pytest.raises(ConfigurationError) as caught:
        load_settings(_env_file=None, semantic_cache_threshold=1.5)
    assert caught.value.env_vars == ("SEMANTIC_CACHE_THRESHOLD",)
