"""The dashboard in a real browser (Debian's headless Chromium): charts drawn from live traffic,
the SANDBOX banner, provider health, the tables and the recent errors; screenshots at 1400x1100 and
at a phone's width (390 px) are kept in the test's tmp folder."""

from __future__ import annotations

import asyncio
import functools
import re
import shutil
import subprocess
import threading
import uuid
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from app.simulators import Fault
from tests.support import need_service

pytestmark = pytest.mark.e2e


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    need_service("Chromium", "`chromium` is not on PATH; apt-get install chromium")
    raise AssertionError("unreachable")


def _browse(browser: str, profile, url: str, *mode: str, size: str = "1400,1100") -> subprocess.CompletedProcess[str]:
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
           "--virtual-time-budget=8000", f"--window-size={size}", *mode, url]
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=90)


def test_dashboard_renders_live_charts_in_chromium(service, simulators, tmp_path):
    browser = _chromium()
    with httpx.Client(base_url=service.url, timeout=30) as http:
        for i, model in enumerate(["groq/llama-3.3-70b-versatile", "artemis/code_reviewer", "mistral", "openai"]):
            ok = http.post("/v1/chat/completions",
                           json={"model": model, "messages": [{"role": "user", "content": f"dash {i} {uuid.uuid4()}"}]})
            assert ok.status_code == 200
        repeat = {"model": "groq", "messages": [{"role": "user", "content": f"cached {uuid.uuid4()}"}]}
        for _ in range(2):
            assert http.post("/v1/chat/completions", json=repeat).status_code == 200  # the second is a cache hit
        simulators.control.set_fault("openai", Fault(status=503))
        fallback = http.post("/v1/chat/completions", json={"model": "artemis/code_reviewer",
                                                           "messages": [{"role": "user", "content": str(uuid.uuid4())}]})
        assert fallback.headers["x-sophia-fallback"] == "true"
        assert http.get("/health").status_code == 200  # degraded: one provider down, every role still served
        source = f"dash/{uuid.uuid4()}.md"
        assert http.post("/v1/documents", json={"text": "# Dashboard\n\nOne chunk.", "source": source}).status_code == 200
        asyncio.run_coroutine_threadsafe(service.state.analytics.flush(), service.state.analytics._loop).result(10)

    dom = _browse(browser, tmp_path / "profile", service.url + "/", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert 'id="sandbox-banner"' in html and "SANDBOX" in html and "openai, groq" in html
    assert re.search(r'id="t-requests">\s*7\s*<', html), "the requests tile shows the live count"
    assert re.search(r'id="t-cache">\s*14\.3 %\s*<', html), "one hit in seven requests"
    assert re.search(r'id="t-fallbacks">\s*1\s*<', html)
    latency_svg = re.search(r'<svg id="c-latency".*?</svg>', html, re.DOTALL).group(0)
    assert latency_svg.count("<path") >= 3, "one latency line per provider that served"
    legend = re.search(r'id="c-latency-legend">(.*?)</div>', html, re.DOTALL).group(1)
    for provider in ("groq", "openai", "anthropic", "mistral"):
        assert provider in legend
    providers = re.search(r'<tbody id="providers">(.*?)</tbody>', html, re.DOTALL).group(1)
    assert "anthropic" in providers and ">down<" in providers and ">up<" in providers
    assert "no data yet" not in re.search(r'<svg id="c-traffic".*?</svg>', html, re.DOTALL).group(0)
    documents = re.search(r'id="t-docs"[^>]*>\s*(\d+) · (\d+)\s*<', html)
    assert documents and int(documents.group(1)) >= 1 and int(documents.group(2)) >= 1, "the documents tile"
    assert re.search(r'id="t-docs-last">\s*\d', html), "the last ingest's time is shown"

    assert re.search(r'id="t-cache-sub">exact 1 · semantic 0<', html), "exact and semantic hits apart"
    assert re.search(r'id="t-failed">\s*[1-9]', html), "the failed OpenAI attempt counts"
    assert f"Simulator control: <a href=\"{simulators.control_url}/faults\"" in html
    roles = re.search(r'<tbody id="roles">(.*?)</tbody>', html, re.DOTALL).group(1)
    assert "artemis/code_reviewer" in roles and "50.0 %" in roles, "one fallback in two provider answers"
    errors = re.search(r'<ul class="errors" id="errors">(.*?)</ul>', html, re.DOTALL).group(1)
    assert "served by anthropic/claude-sonnet-4-5" in errors and "openai/gpt-4o: 503" in errors
    status = re.search(r'<span id="status" class="degraded" title="([^"]*)">([^<]*)</span>', html)
    assert status is not None and status.group(2) == "degraded (1 reason: see Health)"
    assert status.group(1).startswith("openai: ") and "503" in status.group(1), "the same report as the table"
    assert "openai: " in re.search(r'<ul class="plain" id="health-reasons">(.*?)</ul>', html, re.DOTALL).group(1)
    experiments = re.search(r'<div id="experiments-body"[^>]*>(.*?)</div>', html, re.DOTALL).group(1)
    assert "no experiment" in experiments  # the panel asked its API with the default window and drew the answer

    shot = tmp_path / "dashboard.png"
    result = _browse(browser, tmp_path / "profile", service.url + "/", f"--screenshot={shot}")
    assert result.returncode == 0 and shot.stat().st_size > 20_000, result.stderr[-2000:]
    # A phone's width: headless Chromium lays a window out at 500 px at least, so the page goes in a
    # 390 px frame (served from loopback: a frame of a file:// page gets no storage).
    (tmp_path / "phone.html").write_text(f'<!doctype html><body style="margin:0"><iframe src="{service.url}/" '
                                         'width="390" height="2600" style="border:0"></iframe></body>')
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as pages:
        threading.Thread(target=pages.serve_forever, daemon=True).start()
        phone = tmp_path / "dashboard-phone.png"
        result = _browse(browser, tmp_path / "profile-phone", f"http://127.0.0.1:{pages.server_port}/phone.html",
                         f"--screenshot={phone}", size="500,2600")
        pages.shutdown()
    assert result.returncode == 0 and phone.stat().st_size > 20_000, result.stderr[-2000:]
    assert httpx.delete(f"{service.url}/v1/documents/{source}", timeout=30).status_code == 200
