"""PATCH /api/incidents/{id}: the status and owner flows, regressions, refusals, audit and stream."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from tests.api.conftest import SERVICE_TOKEN
from tests.support.incidents import fetch, finding, record_failure
from tests.support.server import RunningServer
from tests.support.sse import open_stream
from tests.support.tenants import Tenant

TIMEOUT = finding("timeout", "search", "TimeoutError", "request req_8f2k3a timed out after 30s")


def only_incident(client: httpx.Client, tenant: Tenant) -> dict[str, Any]:
    [incident] = client.get("/api/incidents", headers=tenant.key()).json()["incidents"]
    return dict(incident)


def patch(client: httpx.Client, incident_id: str, body: object, headers: dict[str, str]) -> httpx.Response:
    return client.patch(f"/api/incidents/{incident_id}", json=body, headers=headers)


def test_status_and_owner_flow_with_regression_audited(
    client: httpx.Client, tenant: Tenant, database_url: str
) -> None:
    record_failure(client, tenant, "life-1", TIMEOUT)
    incident = only_incident(client, tenant)
    member, owner = tenant.user("member"), tenant.users["owner"]
    request_ids = []

    for body in ({"status": "acknowledged", "owner": owner}, {"status": "resolved"}):
        response = patch(client, incident["id"], body, member)
        assert response.status_code == 200, response.text
        request_ids.append(response.headers["x-request-id"])
    resolved = response.json()
    assert (resolved["status"], resolved["owner"], resolved["regressed"]) == ("resolved", owner, False)
    assert resolved["resolved_at"] is not None

    reopening_request = record_failure(client, tenant, "life-2", finding("timeout", "search", "TimeoutError",
                                                     "request req_zz91qp timed out after 2.5s"))
    reopened = only_incident(client, tenant)
    assert (reopened["status"], reopened["regressed"], reopened["session_count"]) == ("open", True, 2)
    assert reopened["owner"] == owner and reopened["resolved_at"] is None
    assert reopened["sample_session_ids"] == ["life-2", "life-1"]

    ignored = patch(client, incident["id"], {"status": "ignored", "owner": None}, tenant.service(SERVICE_TOKEN))
    assert ignored.status_code == 200 and ignored.json()["owner"] is None
    request_ids.append(ignored.headers["x-request-id"])
    record_failure(client, tenant, "life-3", TIMEOUT)
    still_ignored = only_incident(client, tenant)
    assert (still_ignored["status"], still_ignored["session_count"]) == ("ignored", 3)

    audit = fetch(database_url, "select actor_kind, actor_id, action, before, after, request_id from app.audit_log"
                                " where workspace_id = $1 and target_type = 'incident' order by audit_id",
                  tenant.workspace_id)
    assert [(a["actor_kind"], a["action"], a["request_id"]) for a in audit] == [
        ("user", "incident.updated", request_ids[0]), ("user", "incident.updated", request_ids[1]),
        ("service", "incident.regressed", reopening_request), ("service", "incident.updated", request_ids[2])]
    assert audit[0]["actor_id"] == tenant.users["member"]
    assert [json.loads(a["after"])["status"] for a in audit] == ["acknowledged", "resolved", "open", "ignored"]
    assert json.loads(audit[0]["before"]) == {"status": "open", "owner": None, "regressed": False}


def test_refusals_change_nothing(client: httpx.Client, tenant: Tenant, other_tenant: Tenant) -> None:
    record_failure(client, tenant, "deny-1", TIMEOUT)
    incident = only_incident(client, tenant)
    url_id = incident["id"]

    def refused(body: object, headers: dict[str, str]) -> tuple[int, str]:
        response = patch(client, url_id, body, headers)
        return response.status_code, response.json()["error"]["code"]

    assert refused({"status": "resolved"}, tenant.user("viewer")) == (403, "read_only")
    assert refused({"status": "resolved"}, tenant.key()) == (403, "credential_not_allowed")
    assert refused({"status": "resolved"}, other_tenant.user("owner")) == (404, "incident_not_found")
    assert refused({"status": "resolved"}, other_tenant.service(SERVICE_TOKEN)) == (404, "incident_not_found")
    assert refused({"status": "resolved"}, tenant.user("stranger")) == (404, "incident_not_found")
    assert patch(client, "inc_0000nothere", {"status": "resolved"}, tenant.user()).status_code == 404
    assert patch(client, "not-an-incident-id", {"status": "resolved"}, tenant.user()).status_code == 404
    member = tenant.user("member")
    assert refused({"owner": tenant.users["stranger"]}, member) == (422, "owner_not_member")
    assert refused({"owner": other_tenant.users["member"]}, member) == (422, "owner_not_member")
    for body in ({}, {"status": None}, {"status": "closed"}, {"owner": "alice"}, {"title": "x"}):
        assert refused(body, member) == (422, "validation_error"), body
    assert client.patch(f"/api/incidents/{url_id}", content=b"{", headers={**member, "content-type": "application/json"}
                        ).status_code == 400
    assert only_incident(client, tenant) == incident


def test_a_change_streams_incident_updated(server: RunningServer, client: httpx.Client, tenant: Tenant) -> None:
    record_failure(client, tenant, "stream-1", TIMEOUT)
    incident_id = only_incident(client, tenant)["id"]

    async def scenario() -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            async with open_stream(http, tenant.key()) as stream:
                assert stream.response.status_code == 200
                changed = await http.patch(f"/api/incidents/{incident_id}", json={"status": "acknowledged"},
                                           headers=tenant.user("owner"))
                assert changed.status_code == 200
                async with asyncio.timeout(30):
                    async for message in stream:
                        if message.event == "incident.updated":
                            return dict(message.json())
        raise AssertionError("the stream ended without incident.updated")

    streamed = asyncio.run(scenario())
    assert streamed["incident"]["id"] == incident_id and streamed["incident"]["status"] == "acknowledged"
