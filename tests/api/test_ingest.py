"""POST /api/traces and POST /api/traces/{id}/events: ordering, idempotency and outcomes."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from tests.support.tenants import Tenant


def create(client: httpx.Client, headers: dict[str, str], **body: object) -> httpx.Response:
    return client.post("/api/traces", json=body, headers=headers)


def event(seq: int, type_: str = "log", **payload: object) -> dict[str, object]:
    return {"seq": seq, "type": type_, "payload": payload or {"level": "info", "message": f"step {seq}"}}


def stored_keys(database_url: str, trace_id: str) -> list[tuple[int, str]]:
    async def fetch() -> list[tuple[int, str]]:
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch(
                "select seq, idempotency_key from app.events where trace_id = $1 order by seq", trace_id
            )
            return [(r["seq"], r["idempotency_key"]) for r in rows]
        finally:
            await conn.close()

    return asyncio.run(fetch())


def test_spec_batch_example_reproduces_exactly(client: httpx.Client, tenant: Tenant) -> None:
    assert create(client, tenant.key(), id="trace_curl_1").status_code == 201
    batch = {"events": [
        {"seq": 2, "idempotency_key": "trace_curl_1:dev:2", "type": "log", "payload": {"level": "info", "message": "a"}},
        {"seq": 1, "idempotency_key": "trace_curl_1:dev:1", "type": "log", "payload": {"level": "info", "message": "b"}},
    ]}
    response = client.post("/api/traces/trace_curl_1/events", json=batch, headers=tenant.key())
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 1
    assert body["duplicates"] == 0
    assert body["rejected"] == [{
        "index": 1, "idempotency_key": "trace_curl_1:dev:1", "code": "seq_not_monotonic",
        "reason": "seq must be monotonic for this session",
    }]


def test_replayed_batch_is_counted_as_duplicates_and_moves_no_position(
    client: httpx.Client, tenant: Tenant, database_url: str
) -> None:
    trace = create(client, tenant.key(), id="replay-1").json()
    batch = {"events": [event(i) for i in range(5)]}
    first = client.post(f"/api/traces/{trace['id']}/events", json=batch, headers=tenant.key()).json()
    assert (first["accepted"], first["duplicates"], first["rejected"]) == (5, 0, [])
    again = client.post(f"/api/traces/{trace['id']}/events", json=batch, headers=tenant.key()).json()
    assert (again["accepted"], again["duplicates"], again["rejected"], again["first_position"]) == (0, 5, [], None)
    assert [seq for seq, _ in stored_keys(database_url, "replay-1")] == [0, 1, 2, 3, 4]
    session = client.get("/api/sessions", params={"session_id": "replay-1"}, headers=tenant.key()).json()
    assert session["sessions"][0]["event_count"] == 5


def test_single_event_answers_201_then_200_then_409_then_422(client: httpx.Client, tenant: Tenant) -> None:
    create(client, tenant.key(), id="single-1")
    url = "/api/traces/single-1/events"
    assert client.post(url, json=event(1), headers=tenant.key()).status_code == 201
    assert client.post(url, json=event(1), headers=tenant.key()).status_code == 200
    conflict = client.post(url, json=event(1, message="changed", level="info"), headers=tenant.key())
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "idempotency_conflict"
    stale = client.post(url, json={**event(0), "idempotency_key": "other"}, headers=tenant.key())
    assert (stale.status_code, stale.json()["error"]["code"]) == (409, "seq_not_monotonic")
    reused_seq = client.post(url, json={**event(1), "idempotency_key": "another"}, headers=tenant.key())
    assert (reused_seq.status_code, reused_seq.json()["error"]["code"]) == (409, "seq_conflict")
    invalid = client.post(url, json={"seq": 2, "type": "tool.call", "payload": {}}, headers=tenant.key())
    assert invalid.status_code == 422
    assert invalid.json()["error"]["details"][0]["loc"][-1] == "tool"


def test_mixed_batch_accepts_valid_events_and_rejects_invalid_ones_by_index(
    client: httpx.Client, tenant: Tenant
) -> None:
    create(client, tenant.key(), id="mixed-1")
    batch = {"events": [
        event(1),
        {"seq": 2, "type": "tool.call", "payload": {"arguments": {}}},
        {"seq": 3, "type": "not-a-type"},
        event(4),
        {"seq": 5, "type": "artifact", "payload": {"artifact_id": "art_x", "storage_path": "https://cdn/x.png"}},
    ]}
    body = client.post("/api/traces/mixed-1/events", json=batch, headers=tenant.key()).json()
    assert body["accepted"] == 2
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [(1, "invalid"), (2, "invalid"), (4, "invalid")]
    assert body["rejected"][0]["idempotency_key"] == "mixed-1:2"


def test_events_after_session_end_are_rejected_but_replays_are_not(client: httpx.Client, tenant: Tenant) -> None:
    create(client, tenant.key(), id="ended-1")
    url = "/api/traces/ended-1/events"
    end = {"seq": 2, "type": "session.end", "payload": {"outcome": "failure"}}
    body = client.post(url, json={"events": [event(1), end, event(3)]}, headers=tenant.key()).json()
    assert body["accepted"] == 2
    assert body["rejected"][0]["code"] == "session_ended"
    assert client.post(url, json=end, headers=tenant.key()).status_code == 200
    late = client.post(url, json=event(9), headers=tenant.key())
    assert (late.status_code, late.json()["error"]["code"]) == (409, "session_ended")
    session = client.get("/api/sessions", params={"session_id": "ended-1"}, headers=tenant.key()).json()["sessions"][0]
    assert (session["status"], session["last_seq"], session["event_count"]) == ("failure", 2, 2)
    assert session["ended_at"] is not None


def test_trace_create_is_idempotent_by_id_and_body(client: httpx.Client, tenant: Tenant) -> None:
    first = create(client, tenant.key(), id="idem-1", name="run", tags=["a"])
    assert first.status_code == 201
    assert first.json()["status"] == "running" and first.json()["last_seq"] is None
    retry = create(client, tenant.key(), id="idem-1", name="run", tags=["a"])
    assert retry.status_code == 200
    assert retry.json()["created_at"] == first.json()["created_at"]
    different = create(client, tenant.key(), id="idem-1", name="other")
    assert (different.status_code, different.json()["error"]["code"]) == (409, "trace_conflict")
    generated = create(client, tenant.key())
    assert generated.status_code == 201 and generated.json()["id"].startswith("trace_")


def test_console_user_must_name_a_writable_project(client: httpx.Client, tenant: Tenant) -> None:
    assert create(client, tenant.user("member")).status_code == 422
    ok = create(client, tenant.user("member"), project_id=tenant.projects[1])
    assert ok.status_code == 201 and ok.json()["project_id"] == tenant.projects[1]
    viewer = create(client, tenant.user("viewer"), project_id=tenant.projects[1])
    assert viewer.status_code == 403


def test_key_cannot_create_in_another_project(client: httpx.Client, tenant: Tenant) -> None:
    response = create(client, tenant.key(0), project_id=tenant.projects[1])
    assert response.status_code == 403


def test_events_are_read_back_in_seq_order_with_positions(client: httpx.Client, tenant: Tenant) -> None:
    create(client, tenant.key(), id="read-1")
    client.post("/api/traces/read-1/events", json={"events": [event(i) for i in (1, 5, 9)]}, headers=tenant.key())
    client.post("/api/traces/read-1/events", json={"events": [event(i) for i in (10, 11)]}, headers=tenant.key())
    page = client.get("/api/traces/read-1/events", params={"limit": 2}, headers=tenant.key()).json()
    assert [e["seq"] for e in page["events"]] == [1, 5]
    assert page["next_after_seq"] == 5
    rest = client.get("/api/traces/read-1/events", params={"after_seq": 5}, headers=tenant.key()).json()
    assert [e["seq"] for e in rest["events"]] == [9, 10, 11]
    assert rest["next_after_seq"] is None
    positions = [e["position"] for e in page["events"] + rest["events"]]
    assert positions == sorted(positions) and len(set(positions)) == 5


def test_pages_of_large_events_end_early_and_continue(client: httpx.Client, tenant: Tenant) -> None:
    """Ten 2 MiB events: a page stops after 8 MiB of payload and next_after_seq picks up from there."""
    create(client, tenant.key(), id="big-events")
    blob = "x" * (2 * 1024 * 1024)
    for seq in range(10):
        assert client.post("/api/traces/big-events/events", json=event(seq, "log", level="info", message=blob),
                           headers=tenant.key()).status_code == 201
    seen, after = [], None
    while True:
        params = {} if after is None else {"after_seq": after}
        page = client.get("/api/traces/big-events/events", params=params, headers=tenant.key()).json()
        assert 1 <= len(page["events"]) <= 5
        seen += [e["seq"] for e in page["events"]]
        after = page["next_after_seq"]
        if after is None:
            break
    assert seen == list(range(10))


def test_the_same_instant_in_another_utc_offset_is_an_exact_replay(client: httpx.Client, tenant: Tenant) -> None:
    create(client, tenant.key(), id="offsets")
    first = {**event(1), "ts": "2026-11-28T10:00:03Z"}
    assert client.post("/api/traces/offsets/events", json=first, headers=tenant.key()).status_code == 201
    again = {**event(1), "ts": "2026-11-28T11:00:03+01:00"}
    assert client.post("/api/traces/offsets/events", json=again, headers=tenant.key()).status_code == 200
    later = {**event(1), "ts": "2026-11-28T11:00:04+01:00"}
    assert client.post("/api/traces/offsets/events", json=later, headers=tenant.key()).status_code == 409
