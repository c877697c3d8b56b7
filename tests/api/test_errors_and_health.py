"""The error envelope, request ids, and liveness/readiness against a database that goes away."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
import pytest
from starlette.requests import Request
from starlette.routing import Route

from api.app import create_app
from api.config import Settings
from tests.support.server import RunningServer
from tests.support.tcp_proxy import TcpProxy
from tests.support.tenants import Tenant


def assert_envelope(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status
    error = response.json()["error"]
    assert (error["status"], error["code"]) == (status, code)
    assert error["request_id"].startswith("req_")
    assert error["request_id"] == response.headers["x-request-id"]
    assert isinstance(error["message"], str) and isinstance(error["details"], list)


def test_every_response_carries_a_request_id(client: httpx.Client) -> None:
    first = client.get("/healthz")
    second = client.get("/healthz")
    assert first.json() == {"status": "ok"}
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


def test_unknown_endpoint_and_wrong_method_use_the_envelope(client: httpx.Client) -> None:
    assert_envelope(client.get("/api/nope"), 404, "not_found")
    assert_envelope(client.delete("/api/sessions"), 405, "method_not_allowed")


def test_bad_query_parameter_is_400_with_details(client: httpx.Client, tenant: Tenant) -> None:
    response = client.get("/api/sessions", params={"limit": "lots"}, headers=tenant.key())
    assert_envelope(response, 400, "bad_query")
    assert response.json()["error"]["details"][0]["loc"] == ["limit"]
    assert_envelope(client.get("/api/sessions", params={"projct_id": "x"}, headers=tenant.key()), 400, "bad_query")


def test_unexpected_error_is_500_without_stack_trace_or_secret(
    settings: Settings, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def boom(request: Request) -> None:
        raise RuntimeError("secret-token-abc123 leaked?")

    app = create_app(settings, database_url)
    app.router.routes.append(Route("/boom", boom))
    with caplog.at_level(logging.ERROR), RunningServer(app) as running:
        response = httpx.get(running.base_url + "/boom")
    assert_envelope(response, 500, "internal_error")
    assert "secret-token" not in response.text and "Traceback" not in response.text
    assert any("unhandled error" in r.message for r in caplog.records)


def test_readyz_fails_while_the_database_is_unreachable_and_recovers(
    start_server: Callable[..., RunningServer], database_url: str
) -> None:
    parts = urlsplit(database_url)
    socket_dir = parse_qs(parts.query).get("host", [""])[0]
    upstream = f"{socket_dir}/.s.PGSQL.{parts.port or 5432}" if socket_dir else (parts.hostname, parts.port or 5432)
    with TcpProxy(upstream) as proxy:
        user = parts.netloc.rsplit("@", 1)[0]
        proxied = urlunsplit((parts.scheme, f"{user}@127.0.0.1:{proxy.port}", parts.path, "", ""))
        with start_server(proxied) as running, httpx.Client(base_url=running.base_url, timeout=30) as http:
            assert http.get("/readyz").status_code == 200
            proxy.cut()
            down = http.get("/readyz")
            assert down.status_code == 503 and down.json()["database"] == "unreachable"
            assert http.get("/healthz").status_code == 200
            proxy.resume()
            assert http.get("/readyz").status_code == 200
