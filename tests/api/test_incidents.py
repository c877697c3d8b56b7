"""Incidents from real detector runs: clustering, re-analysis, listing, and the documented DBA query."""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from api.detectors.suite import CRITICAL_PRIORITY
from tests.api.conftest import SERVICE_TOKEN
from tests.support.incidents import fetch, finding, record_failure
from tests.support.tenants import Tenant

DOCS = Path(__file__).resolve().parents[2] / "docs"
CAUSES = ("not_found", "timeout", "rate_limited", "code_execution_error")


def _failure_events(cause: str, n: int) -> list[dict[str, Any]]:
    """The failing steps of one run of `cause`; ids, numbers, paths, quotes and counts vary with n."""
    token = secrets.token_hex(6)
    if cause == "not_found":
        return [{"type": "tool.call", "payload": {"tool": "fetch_page", "arguments": {"url": f"/docs/{n}"}}},
                {"type": "tool.result", "payload": {"tool": "fetch_page", "status": "error", "error": {
                    "type": "HTTPError", "code": 404, "message": f"404 Not Found: /docs/{n}/rev-{n % 5}"}}}]
    if cause == "timeout":
        return [{"type": "tool.call", "payload": {"tool": "search", "arguments": {"q": token}}},
                {"type": "tool.result", "payload": {"tool": "search", "status": "error", "error": {
                    "type": "TimeoutError", "message": f"request req_{token} timed out after {n * 1.5}s"}}}]
    if cause == "rate_limited":
        # Some runs retry once more before giving up: two unrecovered occurrences.
        tries = 1 + n % 2
        return [step for attempt in range(tries) for step in (
            {"type": "llm.request", "payload": {"model": "gpt-4o"}},
            {"type": "llm.response", "payload": {"model": "gpt-4o", "usage": {"input_tokens": n}, "error": {
                "type": "RateLimitError", "status": 429,
                "message": f"Rate limit reached for org-{token}{attempt} in {uuid.uuid4()}: "
                           f"Limit {30000 + n}, Used {29000 + n * 7}"}}})]
    output = (f"Traceback (most recent call last):\n  File \"/tmp/job_{n}/main.py\", line {n + 3}, in <module>\n"
              f"ValueError: invalid literal for int() with base 10: '{token}'")
    return [{"type": "tool.call", "payload": {"tool": "python", "arguments": {"code": f"int('{token}')"}}},
            {"type": "tool.result", "payload": {"tool": "python", "status": "ok", "exit_code": 1, "output": output}}]


def failing_run(client: httpx.Client, tenant: Tenant, trace_id: str, cause: str, n: int) -> None:
    """A session that fails with `cause` after n % 4 good steps, with its own client clock; no
    session.end, so only our explicit analyses run."""
    assert client.post("/api/traces", json={"id": trace_id}, headers=tenant.key()).status_code == 201
    steps = [{"type": "session.start", "payload": {}}]
    steps += [{"type": "log", "payload": {"level": "info", "message": f"step {i}"}} for i in range(n % 4)]
    steps += _failure_events(cause, n)
    events = [{"seq": seq, "ts": f"2026-01-{1 + n % 28:02d}T{seq % 24:02d}:{n % 60:02d}:00Z", **step}
              for seq, step in enumerate(steps, start=1)]
    accepted = client.post(f"/api/traces/{trace_id}/events", json={"events": events}, headers=tenant.key())
    assert accepted.json()["accepted"] == len(events), accepted.text


def list_all(client: httpx.Client, headers: dict[str, str], **filters: str) -> list[dict[str, Any]]:
    page = client.get("/api/incidents", params={"limit": "200", **filters}, headers=headers)
    assert page.status_code == 200, page.text
    incidents: list[dict[str, Any]] = page.json()["incidents"]
    return incidents


def test_fifty_sessions_with_four_root_causes_cluster_into_four_incidents_and_reanalysis_changes_nothing(
    client: httpx.Client, tenant: Tenant
) -> None:
    runs = {f"run-{n}-{secrets.token_hex(3)}": (CAUSES[n % 4], n) for n in range(50)}
    for trace_id, (cause, n) in runs.items():
        failing_run(client, tenant, trace_id, cause, n)
        assert client.post(f"/api/traces/{trace_id}/analyze", headers=tenant.key()).status_code == 200

    incidents = list_all(client, tenant.key())
    assert sorted(i["label"] for i in incidents) == sorted(CAUSES), [i["title"] for i in incidents]
    expected_sessions = Counter(cause for cause, _ in runs.values())
    retries = Counter(cause for cause, n in runs.values() if cause == "rate_limited" and n % 2)
    for incident in incidents:
        label = incident["label"]
        assert incident["status"] == "open" and not incident["regressed"]
        assert incident["session_count"] == expected_sessions[label]
        assert incident["occurrence_count"] == expected_sessions[label] + retries[label]
        assert incident["first_seen"] <= incident["last_seen"]
        members = client.get("/api/sessions", params={"incident_id": incident["id"], "limit": "100"},
                             headers=tenant.key()).json()["sessions"]
        assert {s["id"] for s in members} == {t for t, (cause, _) in runs.items() if cause == label}
        assert len(incident["sample_session_ids"]) == 5
        assert set(incident["sample_session_ids"]) <= {s["id"] for s in members}
    titles = {i["label"]: i["title"] for i in incidents}
    assert titles["not_found"] == "not_found in fetch_page: <n> Not Found: <path>"
    assert titles["timeout"] == "timeout in search: request <id> timed out after <n>s"

    # Again, through both write paths: POST analyze for most, the service's PUT for some.
    for index, trace_id in enumerate(runs):
        if index % 5:
            assert client.post(f"/api/traces/{trace_id}/analyze", headers=tenant.key()).status_code == 200
        else:
            stored = client.get(f"/api/traces/{trace_id}/analysis", headers=tenant.key()).json()
            body = {k: stored[k] for k in ("detector_version", "input_digest", "labels", "critical_step")}
            assert client.put(f"/api/traces/{trace_id}/analysis", json=body,
                              headers=tenant.service(SERVICE_TOKEN)).status_code == 200
    assert list_all(client, tenant.key()) == incidents, "re-analysis changed no count, time or status"


def test_list_filters_narrow_and_the_cursor_pages_without_gaps_or_repeats(
    client: httpx.Client, tenant: Tenant
) -> None:
    for n in range(5):
        record_failure(client, tenant, f"lf-{n}", finding("tool_error", f"tool_{n}", None, f"broke on item {n}"))
    record_failure(client, tenant, "lf-other", finding("timeout", "search", None, "slow"), project_index=1)
    member = tenant.user("member")

    everything = list_all(client, member)
    assert len(everything) == 6
    assert [i["last_seen"] for i in everything] == sorted((i["last_seen"] for i in everything), reverse=True)
    paged: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/incidents", params=params, headers=member).json()
        paged += page["incidents"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [i["id"] for i in paged] == [i["id"] for i in everything]

    assert {i["label"] for i in list_all(client, member, label="timeout")} == {"timeout"}
    assert {i["project_id"] for i in list_all(client, member, project_id=tenant.projects[1])} == {tenant.projects[1]}
    assert len(list_all(client, tenant.key(0))) == 5, "a key sees its own project only"
    target = everything[-1]["id"]
    assert client.patch(f"/api/incidents/{target}", json={"status": "acknowledged", "owner": tenant.users["owner"]},
                        headers=member).status_code == 200
    assert [i["id"] for i in list_all(client, member, status="acknowledged")] == [target]
    assert [i["id"] for i in list_all(client, member, owner=tenant.users["owner"])] == [target]
    assert list_all(client, member, owner=tenant.users["viewer"]) == []


def test_bad_list_parameters_are_400_and_foreign_projects_403(
    client: httpx.Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    for params in ({"cursor": "bm90IG91cnM"}, {"owner": "me"}, {"status": "closed"}, {"limit": "0"},
                   {"sort": "title"}):
        response = client.get("/api/incidents", params=params, headers=tenant.key())
        assert response.status_code == 400, (params, response.text)
    assert client.get("/api/incidents", params={"project_id": tenant.projects[1]},
                      headers=tenant.key(0)).status_code == 403
    assert client.get("/api/incidents", params={"project_id": other_tenant.projects[0]},
                      headers=tenant.user("member")).status_code == 403


def test_the_documented_dba_query_lists_open_incidents_with_their_latest_sessions(
    client: httpx.Client, tenant: Tenant, database_url: str
) -> None:
    for n in range(7):
        record_failure(client, tenant, f"dba-{n}", finding("not_found", "fetch_page", "HTTPError", f"404: /p/{n}"))
    record_failure(client, tenant, "dba-slow", finding("timeout", "search", None, "slow"))
    record_failure(client, tenant, "dba-gone", finding("server_error", "pay", None, "503"))
    resolved = list_all(client, tenant.key(), label="server_error")[0]["id"]
    assert client.patch(f"/api/incidents/{resolved}", json={"status": "resolved"},
                        headers=tenant.user("member")).status_code == 200

    rows = fetch(database_url, documented_query().replace(":'project_id'", "$1"), tenant.projects[0])
    listed = list_all(client, tenant.key(), status="open")
    assert [r["incident_id"] for r in rows] == [i["id"] for i in listed]
    assert [(r["title"], r["session_count"]) for r in rows] == [
        ("timeout in search: slow", 1), ("not_found in fetch_page: <n>: <path>", 7)]
    by_id = {r["incident_id"]: r for r in rows}
    for incident in listed:
        latest = json.loads(by_id[incident["id"]]["latest_sessions"])
        assert [s["session_id"] for s in latest] == incident["sample_session_ids"]
        assert all(s["status"] == "running" for s in latest)


def test_sql_specificity_order_is_the_detectors_tie_break_order(database_url: str) -> None:
    ranks = fetch(database_url, "select l, internal.label_specificity(l) as rank from unnest($1::text[]) as l",
                  [*CRITICAL_PRIORITY, "a_workflow_label"])
    assert [r["rank"] for r in ranks] == [*range(1, len(CRITICAL_PRIORITY) + 1), None]


def documented_query() -> str:
    """The one query docs/incidents.md gives for a project's open incidents and latest sessions."""
    blocks = re.findall(r"```sql\n(.*?)```", (DOCS / "incidents.md").read_text(), flags=re.S)
    [query] = [b for b in blocks if b.startswith("-- A project's open incidents")]
    return query
