import json

from app.core.attempts import read_attempts, served_index
from app.core.errors import (
    AllProvidersFailedError,
    ProviderServerError,
    RateLimitError,
    SophiaError,
    error_class_for_status,
)
from app.core.redaction import redact
from app.core.results import Attempt
from app.core.routing import Router
from app.core.settings import load_settings


def chain():
    r = Router(load_settings(
        _env_file=None, openai_api_key="sk-abc123def456ghi789", anthropic_api_key="sk-ant-abc123def456",
        openai_base_url="http://127.0.0.1:7001/openai/v1", anthropic_base_url="http://127.0.0.1:7002/anthropic/v1",
    ))
    return r.build(r.requested("openai", "gpt-4o", ["openai/gpt-4o-mini", "anthropic"]))


def test_served_index_parses_gateway_header():
    assert served_index({"x-portkey-last-used-option-index": "config.targets[2]"}, chain()) == 2
    assert served_index({"x-portkey-last-used-option-index": "config.targets[7]"}, chain()) is None
    assert served_index({}, chain()) is None


def test_attempts_map_entries_to_targets_by_origin_and_model():
    entries = [
        {"o": "http://127.0.0.1:7001", "m": "gpt-4o", "s": 503},
        {"o": "http://127.0.0.1:7001", "m": "gpt-4o", "s": 503},
        {"o": "http://127.0.0.1:7001", "m": "gpt-4o-mini", "e": "timeout"},
        {"o": "http://127.0.0.1:7002", "m": "claude-sonnet-4-5", "s": 200},
    ]
    headers = {"x-sophia-attempts": json.dumps(entries), "x-portkey-last-used-option-index": "config.targets[2]"}
    attempts, index = read_attempts(headers, chain(), 200)
    assert index == 2
    assert [a.describe() for a in attempts] == [
        "openai/gpt-4o: 503", "openai/gpt-4o: 503", "openai/gpt-4o-mini: timeout", "anthropic/claude-sonnet-4-5: 200",
    ]


def test_attempts_without_report_infer_failures_before_served_target():
    attempts, index = read_attempts({"x-portkey-last-used-option-index": "config.targets[1]"}, chain(), 200)
    assert index == 1
    assert attempts[0].status is None and attempts[0].error and attempts[1].status == 200


def test_errors_are_keyed_on_status_and_share_one_base():
    assert error_class_for_status(429) is RateLimitError
    assert error_class_for_status(503) is ProviderServerError
    err = AllProvidersFailedError([Attempt(provider="openai", model="m", status=503),
                                   Attempt(provider="groq", model="n", error="connection refused")],
                                  status=503, trace_id="t")
    assert isinstance(err, SophiaError)
    assert "openai/m: 503" in str(err) and "groq/n: connection refused" in str(err)


def test_redaction_masks_configured_and_key_shaped_secrets():
    text = "Incorrect API key provided: sk-proj-ab***********yz9 and mysecretvalue"
    out = redact(text, ["mysecretvalue"])
    assert "sk-proj-ab" not in out and "mysecretvalue" not in out and "[redacted]" in out
