"""GET /api/sessions: keyset paging neither skips nor repeats a row while sessions keep arriving."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from tests.support.tenants import Tenant


def test_paging_while_sessions_are_created_skips_and_repeats_nothing(client: httpx.Client, tenant: Tenant) -> None:
    before = [f"page-{i:02d}" for i in range(23)]
    for trace_id in before:
        assert client.post("/api/traces", json={"id": trace_id}, headers=tenant.key()).status_code == 201
    seen: list[str] = []
    cursor = None
    created_meanwhile = 0
    while True:
        params: dict[str, str | int] = {"limit": 5}
        if cursor is not None:
            params["cursor"] = cursor
        page = client.get("/api/sessions", params=params, headers=tenant.key()).json()
        seen += [s["id"] for s in page["sessions"]]
        # A new session between every two pages: it sorts before the first page, never into the rest.
        client.post("/api/traces", json={"id": f"late-{created_meanwhile}"}, headers=tenant.key())
        created_meanwhile += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(before)), "newest first, each exactly once, none of the late ones"
    assert created_meanwhile == 5


@pytest.mark.parametrize("sort_key", [
    None,
    {"created_at": "not a time", "workspace_id": "w", "project_id": "p", "trace_id": "t"},
    {"created_at": "2026-01-01T00:00:00Z", "workspace_id": "w"},
    ["a", "list"],
])
def test_a_forged_cursor_is_400_not_500(client: httpx.Client, tenant: Tenant, sort_key: object) -> None:
    cursor = "bm90LWEtY3Vyc29y" if sort_key is None else base64.urlsafe_b64encode(
        json.dumps(sort_key).encode()).decode().rstrip("=")
    response = client.get("/api/sessions", params={"cursor": cursor}, headers=tenant.key())
    assert (response.status_code, response.json()["error"]["code"]) == (400, "bad_cursor")


def test_filters_only_narrow_and_a_foreign_project_filter_is_403(
    client: httpx.Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    client.post("/api/traces", json={"id": "mine-0", "environment": "ci", "tags": ["nightly"]}, headers=tenant.key(0))
    client.post("/api/traces", json={"id": "mine-1"}, headers=tenant.key(1))
    everything = client.get("/api/sessions", headers=tenant.user("viewer")).json()["sessions"]
    assert {s["id"] for s in everything} == {"mine-0", "mine-1"}
    narrowed = client.get("/api/sessions", params={"environment": "ci", "tag": "nightly"},
                          headers=tenant.user("viewer")).json()["sessions"]
    assert [s["id"] for s in narrowed] == ["mine-0"]
    key_view = client.get("/api/sessions", headers=tenant.key(1)).json()["sessions"]
    assert [s["id"] for s in key_view] == ["mine-1"]
    foreign = client.get("/api/sessions", params={"project_id": other_tenant.projects[0]}, headers=tenant.key(0))
    assert foreign.status_code == 403
    sibling = client.get("/api/sessions", params={"project_id": tenant.projects[1]}, headers=tenant.key(0))
    assert sibling.status_code == 403, "a key may not name a sibling project either"


def test_paging_a_tag_filter_skips_and_repeats_nothing(client: httpx.Client, tenant: Tenant) -> None:
    # The tag filter reads app.session_facets (sql/schema/0016): its cursor must page like the list's.
    tagged = [f"tagged-{i:02d}" for i in range(17)]
    for i, trace_id in enumerate(tagged):
        tags = ["paged", "odd"] if i % 2 else ["paged"]
        assert client.post("/api/traces", json={"id": trace_id, "tags": tags}, headers=tenant.key()).status_code == 201
        client.post("/api/traces", json={"id": f"untagged-{i:02d}"}, headers=tenant.key())
    for params, expected in ((({"tag": "paged"}), tagged), ({"tag": "odd"}, tagged[1::2]),
                             ({"tag": "paged", "session_id": "tagged-03"}, ["tagged-03"])):
        seen: list[str] = []
        cursor = None
        while True:
            page = client.get("/api/sessions", params={**params, "limit": 4, **({"cursor": cursor} if cursor else {})},
                              headers=tenant.key()).json()
            seen += [s["id"] for s in page["sessions"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == list(reversed(expected)), params
