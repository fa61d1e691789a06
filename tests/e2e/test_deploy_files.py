"""The deployment files: linted, validated against the compose-spec and Kubernetes schemas, probes wired
to /health, shared state on servers; and the probe script against a running service."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import REPO

pytestmark = pytest.mark.e2e
DEPLOY = REPO / "deploy"
BIN = Path(sys.executable).parent
MANIFESTS = sorted((DEPLOY / "kubernetes").glob("*.yaml"))


def _run(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_yamllint_passes():
    _run(str(BIN / "yamllint"), "-c", str(DEPLOY / ".yamllint"), "--strict", str(DEPLOY))


def test_the_compose_file_matches_the_compose_spec_schema():
    out = _run(str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(DEPLOY / "compose.yaml"))
    assert "validation done" in out


def test_the_kubernetes_manifests_match_the_api_schemas():
    out = _run(str(BIN / "kubernetes-validate"), "--strict", *map(str, MANIFESTS))
    assert out.count("passed for resource") == sum(len([d for d in yaml.safe_load_all(m.read_text()) if d])
                                                   for m in MANIFESTS)


def test_compose_runs_the_five_parts_on_shared_stores_with_health_checks():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"sophia", "gateway", "redis", "postgres", "qdrant"}
    sophia = services["sophia"]
    assert {"REDIS_URL", "DATABASE_URL", "QDRANT_URL", "PORTKEY_BASE_URL"} <= set(sophia["environment"])
    assert "--workers" in sophia["command"]
    assert "/health" in " ".join(sophia["healthcheck"]["test"])
    assert all(services[s]["healthcheck"] for s in ("gateway", "redis", "postgres"))


def test_the_kubernetes_service_probes_health_and_reads_keys_from_a_watched_file():
    docs = [d for m in MANIFESTS for d in yaml.safe_load_all(m.read_text()) if d]
    deployment = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "sophia")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    for probe in ("startupProbe", "readinessProbe"):
        assert "http://127.0.0.1:8000/health" in container[probe]["exec"]["command"]
    assert container["workingDir"] == "/srv/sophia"
    assert {"name": "env", "mountPath": "/srv/sophia", "readOnly": True} in container["volumeMounts"]
    assert deployment["spec"]["replicas"] >= 2 and "--workers" in container["command"]


def test_the_probe_script_passes_on_a_healthy_service_and_fails_on_a_missing_one(service):
    probe = str(DEPLOY / "probe.py")
    assert subprocess.run([sys.executable, probe, f"{service.url}/api/alerts"], timeout=30).returncode == 0
    from app.gateway.process import free_port

    gone = subprocess.run([sys.executable, probe, f"http://127.0.0.1:{free_port()}/health"], timeout=30,
                          capture_output=True)
    assert gone.returncode == 1
