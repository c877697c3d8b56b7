"""Analysis: POST analyze, GET/PUT analysis, automatic analysis when a session ends."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

import httpx

from api.detectors import SUITE_VERSION
from tests.api.conftest import SERVICE_TOKEN
from tests.support.server import RunningServer
from tests.support.sse import open_stream
from tests.support.tenants import Tenant


def failing_run(client: httpx.Client, headers: dict[str, str], trace_id: str, *, end: bool = True) -> None:
    """A tool that fails with a 404 the agent never recovers from, then a failed session."""
    assert client.post("/api/traces", json={"id": trace_id}, headers=headers).status_code in (200, 201)
    events = [
        {"seq": 1, "type": "session.start", "payload": {"tools": ["fetch_page"]}},
        {"seq": 2, "type": "tool.call", "payload": {"tool": "fetch_page", "arguments": {"url": "/docs/42"}}},
        {"seq": 3, "type": "tool.result", "payload": {"tool": "fetch_page", "status": "error",
                                                       "error": {"type": "HTTPError", "code": 404,
                                                                 "message": "404 Not Found: /docs/42"}}},
    ]
    if end:
        events.append({"seq": 4, "type": "session.end", "payload": {"outcome": "failure"}})
    response = client.post(f"/api/traces/{trace_id}/events", json={"events": events}, headers=headers)
    assert response.json()["accepted"] == len(events)


def test_analyze_stores_labels_with_critical_step_and_get_returns_them(client: httpx.Client, tenant: Tenant) -> None:
    failing_run(client, tenant.key(), "an-1", end=False)
    analyzed = client.post("/api/traces/an-1/analyze", headers=tenant.key())
    assert analyzed.status_code == 200, analyzed.text
    result = analyzed.json()
    assert result["detector_version"] == SUITE_VERSION and len(result["input_digest"]) == 64
    assert "not_found" in {label["label"] for label in result["labels"]}
    # Observed at the failing result, caused by the call that asked for the missing page.
    assert (result["critical_step"]["observed_seq"], result["critical_step"]["seq"]) == (3, 2)
    assert result["verdict"] == "unknown"
    stored = client.get("/api/traces/an-1/analysis", headers=tenant.user("viewer"))
    assert stored.json() == result


def test_same_events_give_byte_identical_results_across_processes(client: httpx.Client, tenant: Tenant) -> None:
    failing_run(client, tenant.key(), "an-2")
    first = client.post("/api/traces/an-2/analyze", headers=tenant.key()).json()
    second = client.post("/api/traces/an-2/analyze", headers=tenant.key()).json()
    keep = ("detector_version", "input_digest", "labels", "critical_step")
    assert json.dumps([first[k] for k in keep]) == json.dumps([second[k] for k in keep])
    events = client.get("/api/traces/an-2/events", headers=tenant.key()).json()["events"]
    program = ("import json, sys; from api.detectors import analyze, canonical_json;"
               "print(canonical_json(analyze(json.load(sys.stdin))))")
    outputs = {
        subprocess.run([sys.executable, "-c", program], input=json.dumps(events), capture_output=True, text=True,
                       env={**os.environ, "PYTHONHASHSEED": seed}, check=True).stdout
        for seed in ("1", "987")
    }
    assert len(outputs) == 1
    other_process = json.loads(outputs.pop())
    assert [other_process[k] for k in keep] == [first[k] for k in keep]


def test_get_analysis_is_404_until_one_is_stored(client: httpx.Client, tenant: Tenant) -> None:
    failing_run(client, tenant.key(), "an-3", end=False)
    missing = client.get("/api/traces/an-3/analysis", headers=tenant.key())
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "analysis_not_found")


def put_body(digest: str = "a" * 64) -> dict[str, object]:
    return {"detector_version": "workflow-1", "input_digest": digest, "critical_step": None, "labels": [
        {"label": "timeout", "confidence": 0.9, "critical_seq": 2, "evidence": {"seqs": [2]},
         "signature": {"label": "timeout", "tool": "fetch_page", "error_type": "Timeout", "message": "took 30s"}}]}


def test_put_analysis_is_for_the_service_only(client: httpx.Client, tenant: Tenant, other_tenant: Tenant) -> None:
    failing_run(client, tenant.key(), "an-4", end=False)
    url = "/api/traces/an-4/analysis"
    assert client.put(url, json=put_body(), headers=tenant.key()).status_code == 403
    assert client.put(url, json=put_body(), headers=tenant.user("owner")).status_code == 403
    assert client.put(url, json=put_body(), headers=other_tenant.service(SERVICE_TOKEN)).status_code == 404
    invalid = client.put(url, json={**put_body(), "input_digest": "nope"}, headers=tenant.service(SERVICE_TOKEN))
    assert invalid.status_code == 422 and invalid.json()["error"]["details"][0]["loc"] == ["input_digest"]
    assert client.get(url, headers=tenant.key()).status_code == 404, "refused writes stored nothing"
    stored = client.put(url, json=put_body(), headers=tenant.service(SERVICE_TOKEN))
    assert stored.status_code == 200 and stored.json()["source"] == "service"
    assert client.get(url, headers=tenant.key()).json()["labels"][0]["label"] == "timeout"


def test_a_session_ending_is_analysed_automatically_and_streamed(server: RunningServer, tenant: Tenant) -> None:
    async def scenario() -> dict[str, object]:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            head = (await http.get("/api/sessions", headers=tenant.key())).json()
            assert head["sessions"] == []
            async with open_stream(http, tenant.key(), after_seq=0) as stream:
                assert stream.response.status_code == 200
                with httpx.Client(base_url=server.base_url) as sync_client:
                    await asyncio.to_thread(failing_run, sync_client, tenant.key(), "an-auto")
                async with asyncio.timeout(30):
                    async for message in stream:
                        if message.event == "analysis.completed":
                            return dict(message.json())
        raise AssertionError("the stream ended without analysis.completed")

    streamed = asyncio.run(scenario())
    assert streamed["session_id"] == "an-auto"
    analysis = streamed["analysis"]
    assert isinstance(analysis, dict) and analysis["source"] == "worker"
    with httpx.Client(base_url=server.base_url) as http:
        deadline = time.monotonic() + 30
        while (stored := http.get("/api/traces/an-auto/analysis", headers=tenant.key())).status_code == 404:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert stored.json()["input_digest"] == analysis["input_digest"]
    assert "not_found" in {label["label"] for label in stored.json()["labels"]}


def test_session_list_carries_labels_and_filters_by_label(client: httpx.Client, tenant: Tenant) -> None:
    failing_run(client, tenant.key(), "an-5", end=False)
    client.post("/api/traces", json={"id": "an-clean"}, headers=tenant.key())
    client.post("/api/traces/an-5/analyze", headers=tenant.key())
    rows = {s["id"]: s for s in client.get("/api/sessions", headers=tenant.key()).json()["sessions"]}
    assert "not_found" in rows["an-5"]["labels"] and rows["an-clean"]["labels"] == []
    labelled = client.get("/api/sessions", params={"label": "not_found"}, headers=tenant.key()).json()
    assert [s["id"] for s in labelled["sessions"]] == ["an-5"]


def _run(client: httpx.Client, headers: dict[str, str], trace_id: str, results: list[dict[str, Any]],
         outcome: str) -> None:
    """A session that calls `search` once per result, then claims `outcome`."""
    assert client.post("/api/traces", json={"id": trace_id}, headers=headers).status_code in (200, 201)
    events: list[dict[str, Any]] = []
    for result in results:
        events.append({"seq": len(events), "type": "tool.call", "payload": {"tool": "search", "arguments": {}}})
        events.append({"seq": len(events), "type": "tool.result", "payload": {"tool": "search", **result}})
    events.append({"seq": len(events), "type": "session.end", "payload": {"outcome": outcome}})
    assert client.post(f"/api/traces/{trace_id}/events", json={"events": events}, headers=headers).status_code == 200
    assert client.post(f"/api/traces/{trace_id}/analyze", headers=headers).status_code == 200


def test_verdict_is_stored_filterable_and_recovered_findings_open_no_incident(
    client: httpx.Client, tenant: Tenant
) -> None:
    broken = {"status": "error", "error": {"type": "BackendDown", "message": "search backend 17 is down"}}
    _run(client, tenant.key(), "an-v-errors", [broken], "success")
    _run(client, tenant.key(), "an-v-recovered", [broken, {"status": "ok", "output": "3 hits"}], "success")
    failing_run(client, tenant.key(), "an-v-failed")
    client.post("/api/traces/an-v-failed/analyze", headers=tenant.key())

    def listed(verdict: str) -> list[str]:
        page = client.get("/api/sessions", params={"verdict": verdict}, headers=tenant.key())
        assert page.status_code == 200, page.text
        return [row["id"] for row in page.json()["sessions"]]

    assert listed("succeeded_with_errors") == ["an-v-errors"]
    assert listed("succeeded") == ["an-v-recovered"]
    assert listed("failed") == ["an-v-failed"]
    rows = {s["id"]: s for s in client.get("/api/sessions", headers=tenant.key()).json()["sessions"]}
    assert rows["an-v-errors"]["verdict"] == "succeeded_with_errors"
    stored = client.get("/api/traces/an-v-recovered/analysis", headers=tenant.key()).json()
    (finding,) = stored["labels"]
    assert (finding["label"], finding["recovered"], finding["recovered_by_seq"]) == ("tool_error", True, 3)
    assert stored["verdict"] == "succeeded" and stored["critical_step"] is None
    incidents = client.get("/api/incidents", params={"label": "tool_error"}, headers=tenant.key()).json()["incidents"]
    linked = {session for incident in incidents for session in incident["sample_session_ids"]}
    assert "an-v-errors" in linked and "an-v-recovered" not in linked
    bad = client.get("/api/sessions", params={"verdict": "great"}, headers=tenant.key())
    assert bad.status_code == 400
