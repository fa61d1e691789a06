"""Routing policies through the service: route and role models, metadata, feedback, experiments, the
loaded policy, and a reload of the routing file under load with no failed request."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from app.routing.sticky import sticky_choice
from tests.e2e.conftest import RunningService, UvicornThread, make_settings
from tests.unit.test_routing_file import EXAMPLE

pytestmark = pytest.mark.e2e

BEFORE = EXAMPLE + "  swap:\n    target: groq/llama-3.1-8b-instant\n"
BROKEN = EXAMPLE + "  swap:\n    target: nope/x\n"
AFTER = EXAMPLE + "  swap:\n    target: mistral/mistral-small-latest\n"


@pytest.fixture(scope="module")
def routed(e2e_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    from app.service import ServiceConfig, create_app

    data = tmp_path_factory.mktemp("routed")
    routing = data / "routing.yaml"
    routing.write_text(BEFORE)
    settings = make_settings(e2e_env, database_url=f"sqlite+aiosqlite:///{data / 'requests.db'}", memory_enabled=False,
                             sophia_data_dir=str(data), sophia_routing_file=str(routing), sophia_routing_watch=0.05,
                             cache_ttl=0)
    app = create_app(settings, ServiceConfig(health_interval=0, rate_limit="100000/minute"))
    with UvicornThread(app) as url:
        yield RunningService(url, app, data / "requests.db")


@pytest.fixture
def client(routed: RunningService) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=routed.url + "/v1", api_key="unused", max_retries=0, timeout=30) as c:
        yield c


def _ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"{text} ({uuid.uuid4().hex[:8]})"}]


def test_route_models_carry_metadata_and_say_how_they_were_served(client):
    raw = client.chat.completions.with_raw_response.create(model="route/support_ab", messages=_ask("Help"),
                                                           metadata={"user_id": "u42"})
    expected = ("openai", "groq")[sticky_choice("support_ab", "u42", (0.8, 0.2))]
    assert raw.headers["x-sophia-provider"] == expected and raw.headers["x-sophia-route"] == "support_ab"
    assert raw.headers["x-sophia-variant"].startswith(expected + "/")
    premium = client.chat.completions.with_raw_response.create(model="route/tiered", messages=_ask("Hi"),
                                                               metadata={"tier": "premium"})
    assert premium.headers["x-sophia-provider"] == "anthropic"
    smart = client.chat.completions.with_raw_response.create(
        model="route/smart", messages=_ask("Design a multi-region failover strategy and compare the trade-offs"))
    assert smart.headers["x-sophia-complexity"] == "complex" and smart.headers["x-sophia-provider"] == "openai"


def test_a_role_from_the_file_is_a_model(client):
    raw = client.chat.completions.with_raw_response.create(model="artemis/test_writer", messages=_ask("def f(): ..."))
    assert raw.headers["x-sophia-provider"] == "openai" and raw.parse().choices[0].message.content
    ids = {m.id for m in client.models.list().data}
    assert {"artemis/test_writer", "route/support_ab", "route/smart", "sophia/market_analyst"} <= ids


def test_bad_routing_requests_are_400s_naming_the_problem(client):
    with pytest.raises(openai.BadRequestError, match="unknown route 'nope'; routes: support_ab"):
        client.chat.completions.create(model="route/nope", messages=_ask("x"))
    with pytest.raises(openai.BadRequestError, match="metadata key 'agent_id' is set by the service"):
        client.chat.completions.create(model="route/support_ab", messages=_ask("x"), metadata={"agent_id": "spoof"})
    with pytest.raises(openai.BadRequestError, match="fallbacks applies to a provider model"):
        client.chat.completions.create(model="artemis/test_writer", messages=_ask("x"), extra_body={"fallbacks": []})


def _wait(check: Any, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)  # polling the service's observable state, with a deadline


def test_feedback_closes_the_loop_into_the_experiment_report(routed, client):
    traces: dict[str, str] = {}
    for i in range(40):
        raw = client.chat.completions.with_raw_response.create(model="route/support_ab", messages=_ask("q"),
                                                               metadata={"user_id": f"fb-{i}"})
        traces[raw.headers["x-sophia-trace-id"]] = raw.headers["x-sophia-variant"]
    for trace, variant in traces.items():
        score = 1.0 if variant.startswith("openai") else 0.0
        answer = httpx.post(routed.url + "/v1/feedback", json={"trace_id": trace, "score": score}, timeout=10)
        assert answer.status_code == 200 and answer.json()["score"] == score
    bad = httpx.post(routed.url + "/v1/feedback", json={"trace_id": "t", "score": 7}, timeout=10)
    assert bad.status_code == 400 and "score must be a number from 0 (bad) to 1 (good)" in bad.text

    def report() -> dict | None:
        data = httpx.get(routed.url + "/api/experiments/support_ab?minutes=60", timeout=10).json()
        return data if sum(v["feedback"] for v in data["variants"]) >= len(traces) else None

    data = _wait(report, "the feedback to reach the analytics")
    assert data["control"] == "openai/gpt-4o-mini"
    variants = {v["variant"]: v for v in data["variants"]}
    assert variants["openai/gpt-4o-mini"]["score"]["mean"] == 1.0 and variants["groq/llama-3.1-8b-instant"]["score"][
        "mean"] == 0.0
    tests = {c["metric"]: c for c in data["comparisons"]}
    assert tests["score"]["test"] == "Welch's t" and tests["score"]["significant"]
    assert tests["latency"]["test"] == "Mann-Whitney U"
    listing = httpx.get(routed.url + "/api/experiments", timeout=10).json()
    assert [e["name"] for e in listing["experiments"]] == ["support_ab"]
    assert 'id="experiments"' in httpx.get(routed.url + "/", timeout=10).text


def _load(url: str, stop: threading.Event, results: list[tuple[float, float, str]], failures: list[str]) -> None:
    with httpx.Client(timeout=30) as http:
        while not stop.is_set():
            started = time.monotonic()
            try:
                answer = http.post(url + "/v1/chat/completions", json={
                    "model": "route/swap", "messages": [{"role": "user", "content": uuid.uuid4().hex}]})
            except httpx.HTTPError as exc:
                failures.append(type(exc).__name__)
                continue
            if answer.status_code != 200:
                failures.append(f"{answer.status_code} {answer.text[:200]}")
            else:
                results.append((started, time.monotonic(), answer.headers["x-sophia-provider"]))


def _replace(path: Path, text: str) -> None:
    """Write the routing file as deployments should: a new file moved into place (never half-written)."""
    draft = path.with_suffix(".draft")
    draft.write_text(text)
    os.replace(draft, path)


def reload_under_load(url: str, routing: Path, trigger: Any, clients: int = 8) -> dict[str, Any]:
    """Rewrite the routing file while ``clients`` threads call ``route/swap``: first a broken version (the
    policy in force must stay), then a new target; ``trigger`` makes the service notice (SIGHUP), or does
    nothing (the watch notices). Returns every request's start and end time and provider, the failures,
    and when the new file was written and when the service was seen using it."""
    stop, results, failures = threading.Event(), [], []
    threads = [threading.Thread(target=_load, args=(url, stop, results, failures)) for _ in range(clients)]
    for thread in threads:
        thread.start()
    try:
        _wait(lambda: len(results) >= 50, "traffic")
        before = httpx.get(url + "/v1/routes", timeout=10).json()["version"]
        _replace(routing, BROKEN)
        trigger()
        _wait(lambda: httpx.get(url + "/v1/routes", timeout=10).json()["last_error"], "the broken file's error")
        served = len(results)
        _wait(lambda: len(results) >= served + 50, "traffic on the kept policy")
        written = time.monotonic()
        _replace(routing, AFTER)
        trigger()
        _wait(lambda: httpx.get(url + "/v1/routes", timeout=10).json()["version"] != before, "the reload")
        seen = time.monotonic()
        switched = len(results)
        _wait(lambda: len(results) >= switched + 100, "traffic on the new policy")
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    return {"results": results, "failures": failures, "written": written, "seen": seen}


def check_reload(outcome: dict[str, Any]) -> None:
    """No request failed; every request answered before the new file was written went to the old target,
    every one started after the service was seen using the new policy to the new one."""
    assert outcome["failures"] == []
    results = outcome["results"]
    assert {p for _, end, p in results if end < outcome["written"]} == {"groq"}
    assert {p for start, _, p in results if start > outcome["seen"]} == {"mistral"}
    assert sum(1 for start, _, _ in results if start > outcome["seen"]) >= 50 and len(results) >= 200
    print(f"reload under load: {len(results)} requests, {len(outcome['failures'])} failed, "
          f"{sum(1 for _, _, p in results if p == 'groq')} on the old target, "
          f"{sum(1 for _, _, p in results if p == 'mistral')} on the new")


def test_the_routing_file_reloads_on_change_under_load_without_a_failed_request(routed):
    routing = Path(routed.app.state.sophia.manager.policies.path)
    check_reload(reload_under_load(routed.url, routing, trigger=lambda: None))  # the watch notices
