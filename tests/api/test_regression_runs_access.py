"""Who may start and read regression runs (SPEC: API keys of the incident's project, members, the
service; viewers 403; foreign incidents and sessions 404), and bad requests that change nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.config import Settings
from tests.api.conftest import SERVICE_TOKEN
from tests.support.incidents import fetch
from tests.support.regression import agent_run, failing_incident
from tests.support.server import RunningServer
from tests.support.tenants import Tenant, make_tenant


@pytest.fixture(scope="module")
def world(server: RunningServer, database_url: str, settings: Settings) -> dict[str, Any]:
    """Tenant A with an incident in its first project, and a stranger tenant B with one of its own."""
    a, b = make_tenant(database_url, settings), make_tenant(database_url, settings)
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        incident = failing_incident(http, a.key(), "acc", 1)
        foreign = failing_incident(http, b.key(), "acc-b", 1)
        agent_run(http, a.key(1), "acc-other-project", "clean")
        for n in (1, 2):
            agent_run(http, a.key(), f"acc-after-{n}", "clean")
        run = http.post(f"/api/incidents/{incident['id']}/regression-runs", json={}, headers=a.key()).json()
    return {"a": a, "b": b, "incident": incident["id"], "foreign": foreign["id"], "run": run["id"]}


def runs_of(database_url: str, workspace_id: str) -> int:
    return int(fetch(database_url, "select count(*) from app.regression_runs where workspace_id = $1",
                     workspace_id)[0][0])


def create(client: httpx.Client, incident_id: str, headers: dict[str, str], body: object = None) -> httpx.Response:
    return client.post(f"/api/incidents/{incident_id}/regression-runs", json={} if body is None else body,
                       headers=headers)


@pytest.mark.parametrize("credential", ["key", "member", "owner", "service"])
def test_the_projects_key_members_and_the_service_may_start_a_run(
    client: httpx.Client, world: dict[str, Any], credential: str
) -> None:
    a: Tenant = world["a"]
    headers = {"key": a.key(), "member": a.user("member"), "owner": a.user("owner"),
               "service": a.service(SERVICE_TOKEN)}[credential]
    response = create(client, world["incident"], headers)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "pending" and response.json()["before_session_ids"] == ["acc-before-1"]


@pytest.mark.parametrize(("credential", "status"), [
    ("viewer", 403), ("other_project_key", 404), ("stranger_member", 404), ("stranger_key", 404),
    ("stranger_service", 404), ("none", 401),
])
def test_others_are_refused_and_nothing_is_written(
    client: httpx.Client, world: dict[str, Any], database_url: str, credential: str, status: int
) -> None:
    a: Tenant = world["a"]
    b: Tenant = world["b"]
    headers = {"viewer": a.user("viewer"), "other_project_key": a.key(1), "stranger_member": b.user("member"),
               "stranger_key": b.key(), "stranger_service": b.service(SERVICE_TOKEN), "none": {}}[credential]
    before = runs_of(database_url, a.workspace_id)
    response = create(client, world["incident"], headers)
    assert response.status_code == status, response.text
    assert runs_of(database_url, a.workspace_id) == before


def test_reads_follow_visibility(client: httpx.Client, world: dict[str, Any]) -> None:
    a: Tenant = world["a"]
    b: Tenant = world["b"]
    run_url, list_url = f"/api/regression-runs/{world['run']}", f"/api/incidents/{world['incident']}/regression-runs"
    for headers in (a.key(), a.user("viewer"), a.service(SERVICE_TOKEN)):
        assert client.get(run_url, headers=headers).status_code == 200
        listed = client.get(list_url, headers=headers)
        assert listed.status_code == 200 and world["run"] in [r["id"] for r in listed.json()["regression_runs"]]
    for headers in (a.key(1), b.key(), b.user("member"), b.service(SERVICE_TOKEN)):
        assert client.get(run_url, headers=headers).status_code == 404
        assert client.get(list_url, headers=headers).status_code == 404
    assert client.get("/api/regression-runs/rr_doesnotexist", headers=a.key()).status_code == 404
    assert client.get("/api/regression-runs/not-a-run-id", headers=a.key()).status_code == 404


def test_the_list_pages_newest_first(client: httpx.Client, world: dict[str, Any]) -> None:
    a: Tenant = world["a"]
    made = [create(client, world["incident"], a.key(), {"name": f"page {n}"}).json()["id"] for n in range(3)]
    url = f"/api/incidents/{world['incident']}/regression-runs"
    first = client.get(url, params={"limit": 2}, headers=a.key()).json()
    second = client.get(url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=a.key()).json()
    assert [r["id"] for r in first["regression_runs"]] == made[::-1][:2]
    assert second["regression_runs"][0]["id"] == made[0]
    assert client.get(url, params={"cursor": "forged"}, headers=a.key()).status_code == 400


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"after_session_ids": ["acc-b-before-1"]}, 404, "trace_not_found"),
    ({"after_session_ids": ["acc-other-project"]}, 404, "trace_not_found"),
    ({"before_session_ids": ["acc-before-1"], "after_session_ids": ["acc-before-1"]}, 422, "duplicate_session"),
    ({"before_session_ids": []}, 422, "validation_error"),
    ({"fix_run_id": "run-42"}, 422, "validation_error"),
    ({"deadline_seconds": 0}, 422, "validation_error"),
    ({"expected_after": 1, "after_session_ids": ["acc-after-1", "acc-after-2"]}, 422, "validation_error"),
    ({"unknown": 1}, 422, "validation_error"),
    ([], 400, "bad_shape"),
])
def test_bad_requests_get_a_clear_4xx_and_change_nothing(
    client: httpx.Client, world: dict[str, Any], database_url: str, body: object, status: int, code: str
) -> None:
    a: Tenant = world["a"]
    before = runs_of(database_url, a.workspace_id)
    response = create(client, world["incident"], a.key(), body)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code), response.text
    assert runs_of(database_url, a.workspace_id) == before


def test_foreign_and_malformed_incident_ids_are_not_found(client: httpx.Client, world: dict[str, Any]) -> None:
    a: Tenant = world["a"]
    assert create(client, world["foreign"], a.user("member")).status_code == 404
    assert create(client, "inc_nope", a.key()).status_code == 404
    assert create(client, "not-an-incident", a.key()).status_code == 404


def test_a_session_naming_an_unknown_run_is_refused_and_not_created(client: httpx.Client, world: dict[str, Any]) -> None:
    a: Tenant = world["a"]
    b: Tenant = world["b"]
    for headers, run_id in ((a.key(), "rr_nope"), (b.key(), world["run"]), (a.key(1), world["run"])):
        response = client.post("/api/traces", json={"id": "acc-join", "metadata": {"regression_run_id": run_id}},
                               headers=headers)
        assert (response.status_code, response.json()["error"]["code"]) == (422, "unknown_regression_run")
        assert client.get("/api/traces/acc-join/events", headers=headers).status_code == 404
