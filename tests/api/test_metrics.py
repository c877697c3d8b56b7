"""GET /metrics: off by default, token-protected when configured, counters that match the traffic sent."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.server import RunningServer
from tests.support.tenants import Tenant

METRICS_TOKEN = "test-metrics-token-" + "m" * 40


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _log(seq: int) -> dict[str, object]:
    return {"seq": seq, "type": "log", "payload": {"message": f"step {seq}"}}


def test_metrics_are_off_unless_enabled(client: httpx.Client) -> None:
    response = client.get("/metrics")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_metrics_need_the_configured_token(start_server: Callable[..., AbstractContextManager[RunningServer]]) -> None:
    with start_server(AGENTDECK_METRICS="on", AGENTDECK_METRICS_TOKEN=METRICS_TOKEN) as server, \
            httpx.Client(base_url=server.base_url) as http:
        assert http.get("/metrics").status_code == 401
        assert http.get("/metrics", headers={"Authorization": "Bearer " + "x" * 59}).status_code == 401
        assert http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).status_code == 200


def test_scraped_counters_match_the_traffic_sent(
        start_server: Callable[..., AbstractContextManager[RunningServer]], tenant: Tenant) -> None:
    burst = 9
    with start_server(AGENTDECK_METRICS="on", AGENTDECK_RATE_BURST=str(burst), AGENTDECK_RATE_PER_SECOND="0.001"
                      ) as server, httpx.Client(base_url=server.base_url) as http:
        key = tenant.key()
        assert http.post("/api/traces", json={"id": "metered"}, headers=key).status_code == 201
        batch = {"events": [_log(1), _log(2), _log(0), {"seq": 3, "type": "log", "payload": {"level": 3}}]}
        first = http.post("/api/traces/metered/events", json=batch, headers=key).json()
        assert (first["accepted"], first["duplicates"], len(first["rejected"])) == (2, 0, 2)
        replay = http.post("/api/traces/metered/events", json={"events": [_log(1), _log(2), _log(4)]}, headers=key)
        assert replay.json()["accepted"] == 1 and replay.json()["duplicates"] == 2
        for _ in range(3):
            assert http.get("/api/traces/metered/events", headers=key).status_code == 200
        sent = 6
        refused = 0
        for _ in range(burst - sent + 2):
            refused += http.get("/api/sessions", headers=key).status_code == 429
        assert refused == 2
        assert http.get("/api/nowhere").status_code == 404

        text = http.get("/metrics").text
    samples = _samples(text)

    def value(name: str, **labels: str) -> float:
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    events_route = "/api/traces/{trace_id}/events"
    assert value("agentdeck_http_requests_total", route=events_route, method="POST", status="200") == 2
    assert value("agentdeck_http_requests_total", route=events_route, method="GET", status="200") == 3
    assert value("agentdeck_http_requests_total", route="/api/traces", method="POST", status="201") == 1
    assert value("agentdeck_http_requests_total", route="/api/sessions", method="GET", status="429") == 2
    assert value("agentdeck_http_requests_total", route="unmatched", method="GET", status="404") == 1
    assert value("agentdeck_http_request_duration_seconds_count", route=events_route, method="GET") == 3
    assert value("agentdeck_events_total", outcome="accepted") == 3
    assert value("agentdeck_events_total", outcome="duplicate") == 2
    assert value("agentdeck_events_total", outcome="rejected") == 2
    assert value("agentdeck_events_rejected_by_code_total", code="seq_not_monotonic") == 1
    assert value("agentdeck_events_rejected_by_code_total", code="invalid") == 1
    assert value("agentdeck_rate_limit_refusals_total", reason="rate_limited") == 2
    assert value("agentdeck_stream_subscribers") == 0
    assert value("agentdeck_pool_waiting_requests") == 0
    assert value("agentdeck_pool_connections", state="in_use") + value("agentdeck_pool_connections", state="idle") >= 1
    assert ("agentdeck_analysis_queue_jobs", (("status", "queued"),)) in samples
    # Labels are templates and codes: no tenant's ids, names or traces.
    for tenant_value in (tenant.workspace_id, *tenant.projects, "metered", "test workspace", "project 0"):
        assert tenant_value not in text
