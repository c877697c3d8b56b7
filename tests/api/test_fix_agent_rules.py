"""POST /api/incidents/{id}/fix-agent without a model: the rules plan, persisted, listed, audited, and
who may ask. The default test server has no model and no repository configured."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from api.fix.context import FixContext
from tests.api.conftest import SERVICE_TOKEN
from tests.support.fix import failing_session, incident_of
from tests.support.incidents import fetch
from tests.support.server import RunningServer
from tests.support.sse import SseStream
from tests.support.tenants import Tenant


def test_without_a_model_the_rules_plan_names_the_critical_step_seq_tool_and_error(
    client: httpx.Client, tenant: Tenant, database_url: str
) -> None:
    failing_session(client, tenant, "fx-rules")
    incident = incident_of(client, tenant, "fx-rules")
    response = client.post(f"/api/incidents/{incident['id']}/fix-agent", headers=tenant.user("member"))
    assert response.status_code == 201, response.text
    run = response.json()
    assert run["fix_run_id"].startswith("fix_")
    assert (run["runner"], run["status"], run["diff"], run["base_sha"]) == ("rules", "fallback", None, None)
    assert run["fallback"]["label"] == "no_model_configured" and "AGENTDECK_FIX_MODEL" in run["fallback"]["reason"]
    what_failed = run["plan"][0]
    assert what_failed["step"] == "what_failed"
    assert "seq 4" in what_failed["text"] and "tool python" in what_failed["text"]
    assert "ValueError: invalid literal for int()" in what_failed["text"]
    assert "ValueError: ValueError" not in what_failed["text"]
    assert "raised at /srv/agent/calc/parse.py:6 in parse_amount" in what_failed["text"]
    assert "at /srv/agent/calc/parse.py:6 in parse_amount" in run["plan"][2]["text"]
    assert [step["step"] for step in run["plan"]] == ["what_failed", "cause", "change", "verify"]
    assert f"/api/incidents/{incident['id']}/regression-runs" in run["plan"][-1]["text"]

    listed = client.get(f"/api/incidents/{incident['id']}/fix-runs", headers=tenant.key()).json()
    assert listed["fix_runs"] == [run]
    audit = fetch(database_url, "select actor_kind, actor_id, after from app.audit_log where workspace_id = $1 "
                  "and action = 'fix_run.completed'", tenant.workspace_id)
    assert [(a["actor_kind"], a["actor_id"]) for a in audit] == [("user", tenant.users["member"])]
    assert json.loads(audit[0]["after"])["fix_run_id"] == run["fix_run_id"]


def test_the_same_incident_state_gives_the_same_plan_byte_for_byte_in_two_processes(
    client: httpx.Client, tenant: Tenant, tmp_path: Path
) -> None:
    failing_session(client, tenant, "fx-det")
    incident = incident_of(client, tenant, "fx-det")
    member = tenant.user("member")
    first = client.post(f"/api/incidents/{incident['id']}/fix-agent", headers=member).json()
    second = client.post(f"/api/incidents/{incident['id']}/fix-agent", headers=member).json()
    assert first["fix_run_id"] != second["fix_run_id"]
    assert json.dumps(first["plan"]) == json.dumps(second["plan"])

    # The runner itself, in two fresh interpreters with different hash seeds, from the same context.
    context = {"fix_run_id": "fix_x", "incident": incident, "sessions": [{
        "session_id": "fx-det", "critical_step": None, "events": [
            {"seq": 4, "type": "tool.result", "payload": {"error": {"type": "ValueError", "message": "bad"}}}],
        "finding": {"label": incident["label"], "critical_seq": 4, "cause_seq": 2,
                    "signature": {"label": incident["label"], "tool": "python", "message": "bad"}}}]}
    FixContext.from_json(context)
    (tmp_path / "context.json").write_text(json.dumps(context))
    script = ("import json, sys; from api.fix.context import FixContext; from api.fix.rules import rules_plan; "
              "sys.stdout.write(json.dumps(rules_plan(FixContext.from_json(json.load(open(sys.argv[1]))))))")
    outputs = [subprocess.run([sys.executable, "-c", script, str(tmp_path / "context.json")], check=True,
                              capture_output=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
               for seed in ("1", "2")]
    assert outputs[0] == outputs[1] and b"seq 4" in outputs[0] and b"seq 2" in outputs[0]


def test_api_keys_and_viewers_are_403_members_and_the_service_may_and_foreign_incidents_are_404(
    client: httpx.Client, tenant: Tenant, other_tenant: Tenant, database_url: str
) -> None:
    failing_session(client, tenant, "fx-acc")
    path = f"/api/incidents/{incident_of(client, tenant, 'fx-acc')['id']}/fix-agent"
    assert client.post(path, headers=tenant.key()).json()["error"]["code"] == "credential_not_allowed"
    assert client.post(path, headers=tenant.key()).status_code == 403
    viewer = client.post(path, headers=tenant.user("viewer"))
    assert (viewer.status_code, viewer.json()["error"]["code"]) == (403, "read_only")
    assert client.post(path, headers=other_tenant.user("member")).status_code == 404
    assert client.post(path, headers=other_tenant.service(SERVICE_TOKEN)).status_code == 404
    assert client.post(path, headers=tenant.user("stranger")).status_code in (403, 404)
    assert client.post("/api/incidents/inc_doesnotexist/fix-agent", headers=tenant.user("member")).status_code == 404
    assert client.post("/api/incidents/not-an-id/fix-agent", headers=tenant.user("member")).status_code == 404
    assert client.post(path).status_code == 401
    refused = fetch(database_url, "select count(*) as n from app.fix_runs where workspace_id = $1",
                    tenant.workspace_id)
    assert refused[0]["n"] == 0, "a refused request records no run"

    assert client.post(path, headers=tenant.user("owner")).status_code == 201
    service = client.post(path, headers=tenant.service(SERVICE_TOKEN))
    assert service.status_code == 201 and service.json()["requested_by"] == {"kind": "service", "id": None}

    listing = path.replace("fix-agent", "fix-runs")
    assert len(client.get(listing, headers=tenant.key()).json()["fix_runs"]) == 2
    assert len(client.get(listing, headers=tenant.user("viewer")).json()["fix_runs"]) == 2
    assert client.get(listing, headers=tenant.key(1)).status_code == 404, "a key of another project"
    assert client.get(listing, headers=other_tenant.user("member")).status_code == 404


def test_bad_bodies_are_4xx_and_record_nothing(client: httpx.Client, tenant: Tenant, database_url: str) -> None:
    failing_session(client, tenant, "fx-body")
    path = f"/api/incidents/{incident_of(client, tenant, 'fx-body')['id']}/fix-agent"
    member = tenant.user("member")
    assert client.post(path, content=b"{nope", headers={**member, "content-type": "application/json"}
                       ).status_code == 400
    assert client.post(path, json={"runner": "other"}, headers=member).status_code == 422
    assert client.post(path, json=[], headers=member).status_code == 400
    assert fetch(database_url, "select count(*) as n from app.fix_runs where workspace_id = $1",
                 tenant.workspace_id)[0]["n"] == 0
    assert client.post(path, json={}, headers=member).status_code == 201


def test_fix_runs_page_newest_first_through_the_cursor(client: httpx.Client, tenant: Tenant) -> None:
    failing_session(client, tenant, "fx-page")
    incident_id = incident_of(client, tenant, "fx-page")["id"]
    made = [client.post(f"/api/incidents/{incident_id}/fix-agent", headers=tenant.user("member")).json()["fix_run_id"]
            for _ in range(3)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/api/incidents/{incident_id}/fix-runs", params=params, headers=tenant.key()).json()
        seen += [r["fix_run_id"] for r in page["fix_runs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == made[::-1]
    assert client.get(f"/api/incidents/{incident_id}/fix-runs", params={"cursor": "bm9wZQ"},
                      headers=tenant.key()).status_code == 400


def test_a_finished_run_is_announced_on_the_stream_as_an_incident_update(
    client: httpx.Client, server: RunningServer, tenant: Tenant
) -> None:
    failing_session(client, tenant, "fx-stream")
    incident = incident_of(client, tenant, "fx-stream")
    run = client.post(f"/api/incidents/{incident['id']}/fix-agent", headers=tenant.user("member")).json()

    async def announced() -> dict[str, object]:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http, http.stream(
            "GET", "/api/stream", params={"after_seq": "0", "project_id": tenant.projects[0]}, headers=tenant.key()
        ) as response:
            stream = SseStream(response)
            async with asyncio.timeout(10):
                while (message := await stream.next_message()) is not None:
                    data = message.json()
                    if message.event == "incident.updated" and "fix_run" in data["incident"]:
                        return data  # type: ignore[no-any-return]
        raise AssertionError("no fix run on the stream")

    data = asyncio.run(announced())
    assert data["incident"]["id"] == incident["id"]  # type: ignore[index]
    assert data["incident"]["fix_run"] == {  # type: ignore[index]
        "fix_run_id": run["fix_run_id"], "runner": "rules", "status": "fallback", "base_sha": None,
        "fallback": "no_model_configured", "checks": None}
