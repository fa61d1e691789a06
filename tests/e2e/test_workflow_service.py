"""Workflows through the HTTP service: list them, run one plain or with SSE progress events, a failed
run's answer, clients that leave cancelling their runs, the runs in the dashboard's feed and a run's
timeline in a real browser."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx
import pytest

from app.simulators import Fault
from tests.e2e.test_dashboard_browser import _browse, _chromium

pytestmark = pytest.mark.e2e

CODE = "import pickle\n\ndef load(blob):\n    return pickle.loads(blob)\n"


def code_input() -> dict[str, str]:
    return {"code": CODE, "language": "python", "context": f"run {uuid.uuid4()}"}  # never a cache hit


def flush(service) -> None:
    analytics = service.state.analytics
    asyncio.run_coroutine_threadsafe(analytics.flush(), analytics._loop).result(10)


def sse(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def wait_for_in_flight(simulators, provider: str, expected: int, what: str) -> None:
    deadline = time.monotonic() + 15
    while simulators.control.stats(provider)["in_flight"] != expected:
        assert time.monotonic() < deadline, what
        time.sleep(0.05)  # polling the simulator's count


def test_the_service_lists_and_runs_workflows(service):
    with httpx.Client(base_url=service.url, timeout=60) as http:
        listed = http.get("/v1/workflows").json()
        assert [w["name"] for w in listed["data"]][:2] == ["security_review", "market_brief"]
        answer = http.post("/v1/workflows/security_review/runs", json={"input": code_input(), "budget_usd": 1})
        assert answer.status_code == 200, answer.text
        result = answer.json()
        assert result["status"] == "completed" and answer.headers["x-sophia-trace-id"] == result["trace_id"]
        assert [s["routing"]["provider"] for s in result["steps"]] == ["groq", "anthropic", "deepseek", "openai"]
        assert result["output"]["findings"] and result["budget_usd"] == 1
        flush(service)
        runs = http.get("/api/workflows/runs").json()["runs"]
        assert runs[0]["trace_id"] == result["trace_id"] and runs[0]["status"] == "completed"
        timeline = http.get(f"/api/workflows/runs/{result['trace_id']}").json()
        assert len(timeline["calls"]) == 4 and {c["trace_id"] for c in timeline["calls"]} == {result["trace_id"]}
        feed = http.get("/api/dashboard").json()
        assert feed["workflow_runs"][0]["trace_id"] == result["trace_id"]
        assert http.get("/api/workflows/runs/0123").status_code == 404


def test_a_run_streams_its_progress_then_the_result(service):
    with httpx.Client(base_url=service.url, timeout=60) as http:
        answer = http.post("/v1/workflows/market_brief/runs",
                           json={"input": f"home batteries {uuid.uuid4()}", "stream": True})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
    events = sse(answer.text)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "run_started" and kinds[-1] == "result" and "run_finished" not in kinds
    finished = [data for kind, data in events if kind == "step_finished"]
    assert [f["step"]["name"] for f in finished][-3:] == ["recommend", "tone", "recommend#2"]
    costs = [f["cost_usd"] for f in finished]
    assert costs == sorted(costs) and costs[-1] == pytest.approx(events[-1][1]["cost_usd"])
    assert kinds.count("step_started") == len(finished) == 5
    assert events[-1][1]["trace_id"] == events[0][1]["trace_id"]


def test_a_failed_run_answers_502_with_what_it_had(service, simulators):
    for provider in ("openai", "anthropic", "deepseek"):
        simulators.control.set_fault(provider, Fault(status=503))
    with httpx.Client(base_url=service.url, timeout=60) as http:
        failed = http.post("/v1/workflows/security_review/runs", json={"input": code_input()})
        streamed = http.post("/v1/workflows/security_review/runs", json={"input": code_input(), "stream": True})
        unknown = http.post("/v1/workflows/nope/runs", json={"input": "x"})
        bad = http.post("/v1/workflows/security_review/runs", json={"input": {"language": "go"}})
    assert failed.status_code == 502
    error = failed.json()["error"]
    assert error["code"] == "workflow_failed" and error["step"] == "report"
    assert error["result"]["status"] == "failed" and error["result"]["steps"][-1]["status"] == "failed"
    kind, data = sse(streamed.text)[-1]
    assert kind == "error" and data["error"]["code"] == "workflow_failed"
    assert unknown.status_code == 404 and "security_review" in unknown.json()["error"]["message"]
    assert bad.status_code == 400 and "code: Field required" in bad.json()["error"]["message"]


async def test_a_client_that_leaves_cancels_its_run(service, simulators):
    simulators.control.set_fault("openai", Fault(mode="stall_headers"))  # the report step never answers
    async with httpx.AsyncClient(base_url=service.url, timeout=60) as http:
        async with http.stream("POST", "/v1/workflows/security_review/runs",
                               json={"input": code_input(), "stream": True}) as events:
            async for line in events.aiter_lines():
                if line.startswith("data: ") and '"name":"report"' in line:
                    break  # the report step started: leave
        await asyncio.to_thread(wait_for_in_flight, simulators, "openai", 0, "the streamed run's call ended")
        plain = asyncio.create_task(http.post("/v1/workflows/security_review/runs", json={"input": code_input()}))
        await asyncio.to_thread(wait_for_in_flight, simulators, "openai", 1, "the plain run reached the report")
        plain.cancel()
        with pytest.raises(asyncio.CancelledError):
            await plain
        await asyncio.to_thread(wait_for_in_flight, simulators, "openai", 0, "the plain run's call ended")
    flush(service)
    async with httpx.AsyncClient(base_url=service.url, timeout=60) as http:
        runs = (await http.get("/api/workflows/runs")).json()["runs"]
    assert [r["status"] for r in runs[:2]] == ["cancelled", "cancelled"]
    assert runs[0]["steps"][-1] == {**runs[0]["steps"][-1], "name": "report", "status": "cancelled"}


def test_the_dashboard_draws_a_runs_step_timeline(service, tmp_path):
    browser = _chromium()
    with httpx.Client(base_url=service.url, timeout=60) as http:
        result = http.post("/v1/workflows/security_review/runs", json={"input": code_input()}).json()
    flush(service)
    dom = _browse(browser, tmp_path / "profile", service.url + "/", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert 'id="workflows"' in html and result["trace_id"] in html
    timeline = html[html.index('id="wf-timeline"'):]
    for step in ("scan", "audit", "performance", "report"):
        assert f"<span>{step}</span>" in timeline
    assert "LLM calls with this trace id (4" in timeline and "openai/gpt-4o" in timeline
    shot = _browse(browser, tmp_path / "profile", service.url + "/", f"--screenshot={tmp_path / 'workflows.png'}",
                   size="1400,2400")
    assert shot.returncode == 0 and (tmp_path / "workflows.png").stat().st_size > 10_000
