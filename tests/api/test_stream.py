"""GET /api/stream: credentials and filters, message shapes, cursors, heartbeats and the ends of a stream."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import asyncpg
import httpx

from api import admin
from tests.api.conftest import SERVICE_TOKEN
from tests.support.aio import run
from tests.support.server import RunningServer
from tests.support.sse import open_stream
from tests.support.stream_log import committed_messages, emit_as_service
from tests.support.tenants import Tenant
from tests.support.writes import append, log_events, start_trace

StartServer = Callable[..., AbstractContextManager[RunningServer]]


def test_missing_credential_is_401(client: httpx.Client) -> None:
    response = client.get("/api/stream")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_filters_outside_the_credential_are_403(client: httpx.Client, tenant: Tenant, other_tenant: Tenant) -> None:
    cases = [
        (tenant.key(0), {"project_id": tenant.projects[1]}),
        (tenant.key(0), {"workspace_id": other_tenant.workspace_id}),
        (tenant.user("member"), {"workspace_id": other_tenant.workspace_id}),
        (tenant.user("member"), {"project_id": other_tenant.projects[0]}),
        (tenant.user("member"), {"workspace_id": tenant.workspace_id, "project_id": other_tenant.projects[0]}),
        (tenant.user("stranger"), {}),
    ]
    for headers, params in cases:
        response = client.get("/api/stream", headers=headers, params=params)
        assert response.status_code == 403, (params, response.text)


def test_malformed_cursors_and_filters_are_400(client: httpx.Client, tenant: Tenant) -> None:
    assert client.get("/api/stream", headers={**tenant.key(), "Last-Event-ID": "12a"}).status_code == 400
    assert client.get("/api/stream", headers=tenant.key(), params={"after_seq": "-1"}).status_code == 400
    assert client.get("/api/stream", headers=tenant.key(), params={"session_id": "a b"}).status_code == 400
    assert client.get("/api/stream", headers=tenant.key(), params={"since": "1"}).status_code == 400


def test_a_user_in_several_workspaces_names_the_one_to_follow(
    server: RunningServer, tenant: Tenant, other_tenant: Tenant, database_url: str
) -> None:
    async def scenario() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await admin.add_member(conn, other_tenant.workspace_id, tenant.users["member"], "viewer")
        finally:
            await conn.close()
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            response = await http.get("/api/stream", headers=tenant.user("member"))
            assert (response.status_code, response.json()["error"]["code"]) == (400, "workspace_required")
            await start_trace(http, other_tenant.key(0), "named-ws")
            async with open_stream(http, tenant.user("member"), workspace_id=other_tenant.workspace_id,
                                   after_seq=0) as stream:
                assert stream.response.status_code == 200
                (created,) = await stream.take(1)
                assert created.json()["workspace_id"] == other_tenant.workspace_id

    run(scenario())


def test_backfill_then_live_carries_every_kind_in_position_order(
    server: RunningServer, tenant: Tenant, database_url: str
) -> None:
    project = tenant.projects[0]

    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            await start_trace(http, tenant.key(), "kinds-1", name="kinds")
            await append(http, tenant.key(), "kinds-1", log_events(0, 3))
            async with open_stream(http, tenant.user("viewer"), after_seq=0) as stream:
                assert stream.response.status_code == 200
                assert stream.response.headers["content-type"].startswith("text/event-stream")
                backfilled = await stream.take(4)
                await append(http, tenant.key(), "kinds-1", {"events": [
                    {"seq": 3, "type": "session.end", "payload": {"outcome": "failure"}}]})
                mine = await emit_as_service(database_url, tenant.workspace_id, project, "kinds-1",
                                             "analysis.completed", '{"labels": ["mine"]}')
                live = await stream.take(2)
                # The server's own analysis of the ended session may stream in between: read up to ours.
                while live[-1].position < mine:
                    live += await stream.take(1)
        messages = backfilled + live
        assert [m.position for m in messages] == list(range(1, mine + 1))
        assert [m.event for m in messages[:6]] == ["session.updated"] + ["trace.event"] * 4 + ["session.updated"]
        assert {m.event for m in messages[6:]} <= {"analysis.completed", "incident.updated"}
        first, event, ended, analysis = messages[0].json(), messages[1].json(), messages[5].json(), messages[-1].json()
        assert first["session"]["name"] == "kinds"
        assert {k: first[k] for k in ("position", "kind", "workspace_id", "project_id", "session_id")} == {
            "position": 1, "kind": "session.updated", "workspace_id": tenant.workspace_id, "project_id": project,
            "session_id": "kinds-1"}
        assert event["event"]["seq"] == 0
        assert event["event"]["payload"] == {"level": "info", "message": "step 0"}
        assert {"type", "idempotency_key", "ts", "received_at", "parent_seq", "name"} <= set(event["event"])
        assert ended["session"]["status"] == "failure"
        assert (analysis["kind"], analysis["analysis"]) == ("analysis.completed", {"labels": ["mine"]})

    run(scenario())


def test_last_event_id_wins_over_after_seq_and_no_cursor_starts_at_the_head(
    server: RunningServer, tenant: Tenant
) -> None:
    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            await start_trace(http, tenant.key(), "cursor-1")
            await append(http, tenant.key(), "cursor-1", log_events(0, 5))
            async with open_stream(http, tenant.key(), last_event_id=4, after_seq=1) as stream:
                assert [m.position for m in await stream.take(2)] == [5, 6]
            async with open_stream(http, tenant.key()) as stream:
                await append(http, tenant.key(), "cursor-1", log_events(5, 1))
                assert [m.position for m in await stream.take(1)] == [7]

    run(scenario())


def test_a_key_sees_its_project_only_and_session_id_narrows(server: RunningServer, tenant: Tenant) -> None:
    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            await start_trace(http, tenant.key(1), "other-project")
            await start_trace(http, tenant.key(0), "mine-a")
            await start_trace(http, tenant.key(0), "mine-b")
            await append(http, tenant.key(1), "other-project", log_events(0, 2))
            await append(http, tenant.key(0), "mine-b", log_events(0, 2))
            await append(http, tenant.key(0), "mine-a", log_events(0, 1))
            async with open_stream(http, tenant.key(0), after_seq=0) as stream:
                mine = await stream.take(5)
            async with open_stream(http, tenant.user("owner"), after_seq=0, session_id="mine-b") as stream:
                narrowed = await stream.take(3)
        assert {m.json()["project_id"] for m in mine} == {tenant.projects[0]}
        assert [m.position for m in mine] == [2, 3, 6, 7, 8]
        assert [(m.position, m.json()["session_id"]) for m in narrowed] == [(3, "mine-b"), (6, "mine-b"),
                                                                           (7, "mine-b")]

    run(scenario())


def test_after_seq_beyond_the_head_waits_for_later_messages(server: RunningServer, tenant: Tenant) -> None:
    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            await start_trace(http, tenant.key(), "ahead-1")  # position 1
            async with open_stream(http, tenant.key(), after_seq=4) as stream:
                await append(http, tenant.key(), "ahead-1", log_events(0, 5))  # positions 2..6
                assert [m.position for m in await stream.take(2)] == [5, 6]

    run(scenario())


def test_cursor_older_than_retention_gets_reset_and_continues_from_the_head(
    server: RunningServer, tenant: Tenant, database_url: str
) -> None:
    async def prune(through: int) -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute("select internal.prune_stream($1, $2)", tenant.workspace_id, through)
        finally:
            await conn.close()

    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            await start_trace(http, tenant.key(), "retained-1")
            await append(http, tenant.key(), "retained-1", log_events(0, 6))  # positions 2..7
            await prune(4)
            async with open_stream(http, tenant.key(), last_event_id=3) as stream:
                (reset,) = await stream.take(1)
                await append(http, tenant.key(), "retained-1", log_events(6, 1))
                (live,) = await stream.take(1)
            async with open_stream(http, tenant.key(), last_event_id=4) as stream:
                assert [m.position for m in await stream.take(4)] == [5, 6, 7, 8]
        assert (reset.event, reset.position) == ("reset", 7)
        assert reset.json() == {"reason": "cursor_expired", "cursor": 3, "retained_after": 4, "head": 7}
        assert live.position == 8

    run(scenario())


def test_retry_hint_first_then_heartbeat_comments_while_idle(start_server: StartServer, tenant: Tenant) -> None:
    async def scenario(base_url: str) -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
            async with open_stream(http, tenant.key()) as stream:
                hint = await stream.next_block()
                beats = [await stream.next_block() for _ in range(2)]
        assert hint is not None and hint.retry == 1500
        assert all(beat is not None and beat.comments == ["ping"] and beat.event is None for beat in beats)

    with start_server(AGENTDECK_STREAM_HEARTBEAT_SECONDS="0.2", AGENTDECK_STREAM_RETRY_MS="1500") as running:
        run(scenario(running.base_url))


def test_stream_closes_when_its_jwt_expires(server: RunningServer, tenant: Tenant) -> None:
    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            async with open_stream(http, tenant.user("member", ttl=1)) as stream:
                closing = await stream.next_message()
                assert await stream.next_block() is None
        assert closing is not None and closing.event == "close"
        assert closing.json()["reason"] == "token_expired"

    run(scenario())


def test_revoking_a_key_closes_its_open_stream(
    start_server: StartServer, tenant: Tenant, database_url: str
) -> None:
    async def revoke() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await admin.revoke_key(conn, tenant.key_ids[tenant.projects[0]])
        finally:
            await conn.close()

    async def scenario(base_url: str) -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
            async with open_stream(http, tenant.key()) as stream:
                assert (await stream.next_block()) is not None  # the retry hint: the stream is open
                await revoke()
                closing = await stream.next_message()
        assert closing is not None and closing.json()["reason"] == "credential_revoked"

    with start_server(AGENTDECK_STREAM_REAUTHORIZE_SECONDS="0.2") as running:
        run(scenario(running.base_url))


def test_committed_log_matches_what_a_workspace_wide_subscriber_receives(
    server: RunningServer, tenant: Tenant, database_url: str
) -> None:
    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            await start_trace(http, tenant.key(0), "log-a")
            await start_trace(http, tenant.key(1), "log-b")
            await append(http, tenant.key(0), "log-a", log_events(0, 4))
            await append(http, tenant.key(1), "log-b", log_events(0, 2))
            committed = await committed_messages(database_url, tenant.workspace_id)
            async with open_stream(http, tenant.service(SERVICE_TOKEN), after_seq=0) as stream:
                received = await stream.take(len(committed))
        assert [(m.position, m.event, m.json()["session_id"]) for m in received] == [
            (c.position, c.kind, c.session_id) for c in committed]

    run(scenario())

