"""With auth on, the API description is not served; credentials in a query string never reach the access log."""

from __future__ import annotations

import logging

from fastapi.testclient import TestClient

from app.core.settings import load_settings
from app.service.app import create_app
from app.service.config import ServiceConfig
from app.service.server import RedactQuery


def test_openapi_and_docs_are_closed_when_auth_is_on():
    settings = load_settings(_env_file=None)
    open_app = TestClient(create_app(settings, ServiceConfig()))
    assert open_app.get("/openapi.json").status_code == 200
    closed = TestClient(create_app(settings, ServiceConfig(api_keys=frozenset({"secret-token-1"}))))
    assert closed.get("/openapi.json").status_code == 404 and closed.get("/docs").status_code == 404


def test_a_token_in_the_query_string_is_masked_in_the_access_log():
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", "/api/dashboard?minutes=5&token=sk-live-123", "1.1", 200), None)
    RedactQuery().filter(record)
    assert "sk-live-123" not in record.getMessage() and "token=[redacted]" in record.getMessage()
    assert "minutes=5" in record.getMessage()
