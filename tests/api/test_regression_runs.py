"""Regression runs end to end: pairing by task, verdicts from the same detector version, settling by
the worker (on arrival and at the deadline), resolve_on_pass, audit and stream."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from tests.support.incidents import fetch
from tests.support.regression import agent_run, failing_incident, incident_of, settled, verdicts, wait_until
from tests.support.server import RunningServer
from tests.support.sse import open_stream
from tests.support.tenants import Tenant


def start(client: httpx.Client, incident_id: str, headers: dict[str, str], **body: object) -> dict[str, object]:
    response = client.post(f"/api/incidents/{incident_id}/regression-runs", json=body, headers=headers)
    assert response.status_code == 201, response.text
    run: dict[str, object] = response.json()
    return run


def test_four_fixed_and_one_still_failing_fail_the_run_with_a_sign_test(client: httpx.Client, tenant: Tenant) -> None:
    key = tenant.key()
    incident = failing_incident(client, key, "a", 5)
    for n in range(1, 6):
        agent_run(client, key, f"a-after-{n}", "not_found" if n == 3 else "clean", task_key=f"a-t{n}")
    run = start(client, incident["id"], key, after_session_ids=[f"a-after-{n}" for n in (5, 4, 3, 2, 1)],
                name="fix 404s")
    assert run["pairing"] == "task_key" and run["expected_after"] == 5

    done = settled(client, key, str(run["id"]))
    assert done["status"] == "failed"
    assert verdicts(done) == [(f"a-t{n}", f"a-after-{n}", "still_failing" if n == 3 else "fixed") for n in range(1, 6)]
    assert [p["before_session_ids"] for p in done["pairs"]] == [[f"a-before-{n}"] for n in range(1, 6)]
    summary = done["summary"]
    assert summary["pairs"] == {"fixed": 4, "still_failing": 1, "new_failure": 0, "missing": 0, "unmatched": 0}
    # Every before-session failed: 4 discordant pairs improved, none worsened; p = 2 * (1/2)^4.
    assert summary["sign_test"] == {"improved": 4, "worsened": 0, "discordant": 4, "p_value": 0.125}
    assert done["detector_version"] == client.get("/api/traces/a-after-1/analysis", headers=key).json()[
        "detector_version"]


def test_a_run_created_first_passes_when_its_after_sessions_arrive_and_resolves_the_incident(
    client: httpx.Client, tenant: Tenant, database_url: str
) -> None:
    key = tenant.key()
    incident = failing_incident(client, key, "b", 5)
    run = start(client, incident["id"], key, resolve_on_pass=True)
    assert (run["status"], run["after_session_ids"], run["fix_run_id"]) == ("pending", [], None)
    # CI re-runs each task with the run id in its metadata; nothing else is called.
    for n in (3, 1, 2, 5, 4):
        agent_run(client, key, f"b-after-{n}", "clean", task_key=f"b-t{n}", regression_run_id=str(run["id"]))

    done = settled(client, key, str(run["id"]))
    assert done["status"] == "passed", done
    assert verdicts(done) == [(f"b-t{n}", f"b-after-{n}", "fixed") for n in range(1, 6)]
    assert done["after_session_ids"] == ["b-after-3", "b-after-1", "b-after-2", "b-after-5", "b-after-4"]
    resolved = client.get("/api/incidents", params={"label": "not_found"}, headers=key).json()["incidents"][0]
    assert resolved["status"] == "resolved"

    audit = fetch(database_url, "select actor_kind, action, target_id, after from app.audit_log"
                                " where workspace_id = $1 order by audit_id", tenant.workspace_id)
    actions = [(r["actor_kind"], r["action"], r["target_id"]) for r in audit]
    assert actions == [("key", "regression_run.created", run["id"]), ("service", "incident.updated", incident["id"]),
                       ("service", "regression_run.completed", run["id"])]
    assert json.loads(audit[1]["after"])["regression_run_id"] == run["id"]

    # The fix did not hold: a new occurrence reopens the incident as a regression.
    agent_run(client, key, "b-later", "not_found", task_key="b-t1")
    reopened = wait_until(lambda: [i for i in client.get("/api/incidents", headers=key).json()["incidents"]
                                   if i["id"] == incident["id"] and i["status"] == "open"], "the incident to reopen")
    assert reopened[0]["regressed"] is True


def test_a_task_without_an_after_session_at_the_deadline_is_missing_and_fails_the_run(
    client: httpx.Client, tenant: Tenant, database_url: str
) -> None:
    key = tenant.key()
    incident = failing_incident(client, key, "c", 5)
    for n in (1, 2, 4, 5):
        agent_run(client, key, f"c-after-{n}", "clean", task_key=f"c-t{n}")
    run = start(client, incident["id"], key, after_session_ids=[f"c-after-{n}" for n in (1, 2, 4, 5)],
                deadline_seconds=3600)
    assert run["expected_after"] == 5, "one after-session per before task by default"
    # The four given sessions are analysed, the fifth never comes: pending until the deadline.
    wait_until(lambda: client.get(f"/api/regression-runs/{run['id']}", headers=key).json()["summary"][
        "after_analysed"] == 4, "the after-sessions to be judged")
    assert client.get(f"/api/regression-runs/{run['id']}", headers=key).json()["status"] == "pending"
    fetch(database_url, "update app.regression_runs set deadline_at = now() - interval '1 second', due_at = now()"
                        " where run_id = $1", run["id"])

    done = settled(client, key, str(run["id"]))
    assert done["status"] == "failed"
    assert verdicts(done) == [("c-t1", "c-after-1", "fixed"), ("c-t2", "c-after-2", "fixed"), ("c-t3", None, "missing"),
                              ("c-t4", "c-after-4", "fixed"), ("c-t5", "c-after-5", "fixed")]
    assert done["summary"]["tasks"]["missing"] == 1 and done["summary"]["pairs"]["fixed"] == 4


def test_repetitions_of_one_task_are_all_kept_and_one_failing_makes_it_flaky(
    client: httpx.Client, tenant: Tenant
) -> None:
    key = tenant.key()
    incident = failing_incident(client, key, "d", 1)
    run = start(client, incident["id"], key, expected_after=2)
    agent_run(client, key, "d-after-1", "clean", task_key="d-t1", regression_run_id=str(run["id"]))
    agent_run(client, key, "d-after-2", "not_found", task_key="d-t1", regression_run_id=str(run["id"]))

    done = settled(client, key, str(run["id"]))
    assert done["status"] == "failed"
    assert verdicts(done) == [("d-t1", "d-after-1", "fixed"), ("d-t1", "d-after-2", "still_failing")]
    assert done["tasks"] == [{"task": "d-t1", "after_sessions": 2, "verdict": "flaky"}]
    assert done["summary"]["tasks"]["flaky"] == 1


def test_without_task_keys_pairs_follow_the_order_given(client: httpx.Client, tenant: Tenant) -> None:
    key = tenant.key()
    for n in (1, 2):
        agent_run(client, key, f"e-before-{n}", "not_found")
    incident = incident_of(client, key, 2)
    agent_run(client, key, "e-after-x", "clean")
    agent_run(client, key, "e-after-y", "not_found")
    run = start(client, incident["id"], key, before_session_ids=["e-before-2", "e-before-1"],
                after_session_ids=["e-after-x", "e-after-y"])
    assert run["pairing"] == "order"
    done = settled(client, key, str(run["id"]))
    assert verdicts(done) == [("#1", "e-after-x", "fixed"), ("#2", "e-after-y", "still_failing")]
    assert [p["before_session_ids"] for p in done["pairs"]] == [["e-before-2"], ["e-before-1"]]


def test_settled_verdicts_are_byte_identical_when_recomputed_after_reanalysis(
    client: httpx.Client, tenant: Tenant, database_url: str
) -> None:
    key = tenant.key()
    incident = failing_incident(client, key, "f", 2)
    agent_run(client, key, "f-after-1", "clean", task_key="f-t1")
    agent_run(client, key, "f-after-2", "auth_error", task_key="f-t2")
    run = start(client, incident["id"], key, after_session_ids=["f-after-1", "f-after-2"])
    done = settled(client, key, str(run["id"]))
    assert [v for _, _, v in verdicts(done)] == ["fixed", "new_failure"]
    for trace_id in ("f-before-1", "f-before-2", "f-after-1", "f-after-2"):
        assert client.post(f"/api/traces/{trace_id}/analyze", headers=key).status_code == 200
    [row] = fetch(database_url, "select r.result::text as stored,"
                                " (internal.regression_evaluation(r, true) - 'passed')::text as recomputed"
                                " from app.regression_runs r where run_id = $1", run["id"])
    assert row["recomputed"] == row["stored"]


def test_a_run_is_announced_on_the_stream_when_created_and_settled(
    client: httpx.Client, tenant: Tenant, server: RunningServer
) -> None:
    key = tenant.key()
    incident = failing_incident(client, key, "g", 1)
    agent_run(client, key, "g-after-1", "clean", task_key="g-t1")
    run = start(client, incident["id"], key, after_session_ids=["g-after-1"])
    settled(client, key, str(run["id"]))

    async def announced() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            async with open_stream(http, key, after_seq=0) as stream:
                assert stream.response.status_code == 200
                seen: list[dict[str, Any]] = []
                async with asyncio.timeout(20):
                    async for message in stream:
                        if message.event == "regression_run.updated":
                            seen.append(message.json()["regression_run"])
                            if seen[-1]["status"] != "pending":
                                return seen
        raise AssertionError("the stream ended before the run settled")

    seen = asyncio.run(announced())
    assert [(m["id"], m["status"]) for m in seen] == [(run["id"], "pending"), (run["id"], "passed")]


def test_a_run_names_a_fix_run_of_its_own_incident_only(client: httpx.Client, tenant: Tenant) -> None:
    key = tenant.key()
    incident = failing_incident(client, key, "fx", 1)
    other = failing_incident(client, tenant.key(1), "fy", 1)
    member = tenant.user("member")
    fix_run = client.post(f"/api/incidents/{incident['id']}/fix-agent", headers=member).json()["fix_run_id"]
    foreign = client.post(f"/api/incidents/{other['id']}/fix-agent", headers=member).json()["fix_run_id"]
    run = start(client, incident["id"], key, fix_run_id=fix_run)
    assert run["fix_run_id"] == fix_run
    for unknown in ("fix_doesnotexist", foreign):
        refused = client.post(f"/api/incidents/{incident['id']}/regression-runs", json={"fix_run_id": unknown},
                              headers=key)
        assert (refused.status_code, refused.json()["error"]["code"]) == (422, "unknown_fix_run"), refused.text
