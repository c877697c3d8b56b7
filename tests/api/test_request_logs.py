"""Request logs: one structured line per request, never a secret, token or signed URL."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx

from api.logs import formatter
from tests.api.conftest import JWT_SECRET, SERVICE_TOKEN, settings_for
from tests.support.artifacts import SIGNING_KEY, png, upload_form
from tests.support.server import RunningServer
from tests.support.tenants import Tenant

METRICS_TOKEN = "test-metrics-token-" + "q" * 40


@contextmanager
def captured_logs(log_format: str) -> Iterator[io.StringIO]:
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(formatter(log_format))
    # Everything the server process logs; not the test's own HTTP client, which logs the URLs it calls.
    handler.addFilter(lambda record: not record.name.startswith(("httpx", "httpcore")))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield sink
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_a_full_request_cycle_logs_one_json_line_per_request_and_no_secret(
        start_server: Callable[..., AbstractContextManager[RunningServer]], tenant: Tenant, tmp_path: Path) -> None:
    key = tenant.key()
    jwt_headers = tenant.user("member")
    forged = "adk_" + "f" * 43
    with start_server(AGENTDECK_LOG_FORMAT="json", AGENTDECK_DATA_DIR=str(tmp_path),
                      AGENTDECK_ARTIFACT_SIGNING_KEY=SIGNING_KEY, AGENTDECK_METRICS="on",
                      AGENTDECK_METRICS_TOKEN=METRICS_TOKEN) as server, captured_logs("json") as sink, \
            httpx.Client(base_url=server.base_url) as http:
        sent = 0

        def call(method: str, url: str, **kwargs: object) -> httpx.Response:
            nonlocal sent
            sent += 1
            return http.request(method, url, **kwargs)  # type: ignore[arg-type]

        assert call("POST", "/api/traces", json={"id": "logged"}, headers=key).status_code == 201
        events = {"events": [{"seq": 1, "type": "tool.call", "payload": {"tool": "t", "arguments": {}}},
                             {"seq": 2, "type": "session.end", "payload": {"outcome": "failure"}}]}
        assert call("POST", "/api/traces/logged/events", json=events, headers=key).status_code == 200
        created = upload_form(http, "logged", key, png())
        sent += 1
        assert created.status_code == 201
        redirect = call("GET", f"/artifacts/{created.json()['artifact_id']}", headers=jwt_headers)
        assert redirect.status_code == 302
        signed_url = redirect.headers["location"]
        assert call("GET", signed_url).status_code == 200
        assert call("GET", "/api/sessions", headers=jwt_headers).status_code == 200
        assert call("GET", "/api/sessions", headers=tenant.service(SERVICE_TOKEN)).status_code == 200
        assert call("POST", "/api/traces/logged/analyze", headers=key).status_code == 200
        assert call("GET", "/api/traces/logged/events?after_seq=0", headers={"Authorization": f"Bearer {forged}"}
                    ).status_code == 401
        assert call("GET", "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).status_code == 200
    text = sink.getvalue()
    query = signed_url.split("?", 1)[1]
    secrets = {"API key": tenant.keys[tenant.projects[0]], "console JWT": jwt_headers["Authorization"][7:],
               "service token": SERVICE_TOKEN, "JWT secret": JWT_SECRET, "signing key": SIGNING_KEY,
               "signed URL query": query, "forged key": forged, "metrics token": METRICS_TOKEN}
    for name, secret in secrets.items():
        assert secret not in text, f"the {name} reached the logs"
    lines = [json.loads(line) for line in text.splitlines()]
    requests = [line for line in lines if line.get("logger") == "agentdeck.request"]
    assert len(requests) == sent
    for line in requests:
        assert {"request_id", "route", "path", "status", "ms", "credential", "workspace_id"} <= set(line)
        assert line["request_id"].startswith("req_")
    by_route = {(line["route"], line["status"]): line for line in requests}
    assert by_route[("/api/traces/{trace_id}/events", 200)]["credential"] == "key"
    assert by_route[("/api/sessions", 200)]["credential"] in ("user", "service")
    assert any(line["credential"] == "service" and line["workspace_id"] == tenant.workspace_id for line in requests)


def test_the_default_log_format_is_readable_text(
        start_server: Callable[..., AbstractContextManager[RunningServer]], tenant: Tenant, database_url: str) -> None:
    default_format = settings_for(database_url).log_format
    with start_server() as server, captured_logs(default_format) as sink, \
            httpx.Client(base_url=server.base_url) as http:
        assert http.get("/api/sessions", headers=tenant.key()).status_code == 200
    line = next(line for line in sink.getvalue().splitlines() if "route=/api/sessions" in line)
    assert line.startswith("request request_id=req_") and "status=200" in line and "credential=key" in line
