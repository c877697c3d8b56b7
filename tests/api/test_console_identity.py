"""GET /api/me: what the console signs in with, for console users only and within their workspaces."""

from __future__ import annotations

import httpx

from tests.api.conftest import SERVICE_TOKEN
from tests.support.tenants import Tenant


def test_me_names_the_users_role_projects_and_members_of_their_workspaces_only(
    client: httpx.Client, tenant: Tenant, other_tenant: Tenant,
) -> None:
    viewer = client.get("/api/me", headers=tenant.user("viewer"))
    assert viewer.status_code == 200, viewer.text
    body = viewer.json()
    assert body["user_id"] == tenant.users["viewer"]
    assert [(w["workspace_id"], w["role"]) for w in body["workspaces"]] == [(tenant.workspace_id, "viewer")]
    [workspace] = body["workspaces"]
    assert sorted(p["project_id"] for p in workspace["projects"]) == sorted(tenant.projects)
    assert {(m["user_id"], m["role"]) for m in workspace["members"]} == {
        (tenant.users[name], name) for name in ("owner", "member", "viewer")}
    stranger = client.get("/api/me", headers=tenant.user("stranger"))
    assert stranger.json() == {"user_id": tenant.users["stranger"], "workspaces": []}


def test_me_is_for_console_users_not_keys_or_the_service(client: httpx.Client, tenant: Tenant) -> None:
    for headers in (tenant.key(), tenant.service(SERVICE_TOKEN)):
        refused = client.get("/api/me", headers=headers)
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "credential_not_allowed")
    assert client.get("/api/me").status_code == 401
