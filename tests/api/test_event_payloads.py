"""Payload rules: required only where SPEC names a field, typed whenever a field is present."""

from __future__ import annotations

import httpx
import pytest

from tests.support.tenants import Tenant


def test_a_log_without_level_is_accepted_and_stored_at_info(client: httpx.Client, tenant: Tenant) -> None:
    assert client.post("/api/traces", json={"id": "lenient-log"}, headers=tenant.key()).status_code == 201
    response = client.post("/api/traces/lenient-log/events", headers=tenant.key(),
                           json={"seq": 1, "type": "log", "payload": {"message": "hello"}})
    assert response.status_code == 201, response.text
    stored = client.get("/api/traces/lenient-log/events", headers=tenant.key()).json()["events"]
    assert stored[0]["payload"] == {"message": "hello", "level": "info"}
    # The stored default is part of the content: the same request again is an exact replay.
    replay = client.post("/api/traces/lenient-log/events", headers=tenant.key(),
                         json={"seq": 1, "type": "log", "payload": {"message": "hello"}})
    assert replay.status_code == 200


@pytest.mark.parametrize(("type_", "payload"), [
    ("log", {}),
    ("llm.request", {"messages": [{"role": "user", "content": "hi"}]}),
    ("browser.action", {"selector": "#go"}),
    ("browser.navigation", {"status_code": 200}),
    ("error", {"type": "ValueError"}),
    ("session.start", {}),
])
def test_types_spec_names_no_field_for_take_payloads_without_them(
        client: httpx.Client, tenant: Tenant, type_: str, payload: dict[str, object]) -> None:
    trace = f"lenient-{type_.replace('.', '-')}"
    assert client.post("/api/traces", json={"id": trace}, headers=tenant.key()).status_code == 201
    response = client.post(f"/api/traces/{trace}/events", headers=tenant.key(),
                           json={"seq": 1, "type": type_, "payload": payload})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(("type_", "payload"), [
    ("log", {"level": 3}),
    ("llm.request", {"model": ["gpt"]}),
    ("llm.response", {"model": "m"}),
    ("tool.call", {"tool": "search"}),
    ("tool.result", {"tool": "search", "status": "error"}),
    ("session.end", {}),
    ("assertion", {"expected": 1}),
])
def test_named_fields_stay_required_and_present_fields_stay_typed(
        client: httpx.Client, tenant: Tenant, type_: str, payload: dict[str, object]) -> None:
    trace = f"strict-{type_.replace('.', '-')}"
    assert client.post("/api/traces", json={"id": trace}, headers=tenant.key()).status_code == 201
    response = client.post(f"/api/traces/{trace}/events", headers=tenant.key(),
                           json={"seq": 1, "type": type_, "payload": payload})
    assert response.status_code == 422, response.text
