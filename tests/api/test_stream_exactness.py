"""Exactness under concurrency: every subscriber receives exactly the committed messages it may see.

8 writers append to sessions in 3 projects of one workspace and 2 of another while incident
updates are emitted; 20 subscribers with different credentials and filters drop their connection
at random moments (after a random number of messages, or mid-wait) and resume with Last-Event-ID.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from api import admin
from tests.api.conftest import SERVICE_TOKEN
from tests.support.aio import run
from tests.support.server import RunningServer
from tests.support.sse import SseBlock, open_stream
from tests.support.stream_log import committed_messages, emit_as_service, visible
from tests.support.tenants import Tenant
from tests.support.writes import append, log_events, start_trace

SEED = 4


@dataclass
class Subscriber:
    name: str
    headers: dict[str, str]
    workspace_id: str
    project_ids: set[str] | None = None  # what it may see: None for the whole workspace
    session_id: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    received: list[SseBlock] = field(default_factory=list)
    connects: int = 0
    target: int | None = None  # the last position it must reach, once the writers are done


@dataclass(frozen=True)
class Writer:
    headers: dict[str, str]
    trace_id: str
    project_id: str | None  # named in the create body (console and service credentials)


async def add_third_project(database_url: str, tenant: Tenant) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        project = await admin.create_project(conn, tenant.workspace_id, "project 2")
        key = await admin.create_key(conn, project["project_id"], "third key")
    finally:
        await conn.close()
    tenant.projects.append(project["project_id"])
    tenant.keys[project["project_id"]] = key["secret"]
    tenant.key_ids[project["project_id"]] = key["key_id"]


def writers(a: Tenant, b: Tenant) -> list[Writer]:
    p = a.projects
    return [
        Writer(a.key(0), "ex-a0-1", None), Writer(a.user("member"), "ex-a0-2", p[0]),
        Writer(a.key(1), "ex-a1-1", None), Writer(a.user("owner"), "ex-a1-2", p[1]),
        Writer(a.key(2), "ex-a2-1", None), Writer(a.service(SERVICE_TOKEN), "ex-a2-2", p[2]),
        Writer(b.key(0), "ex-b0-1", None), Writer(b.key(1), "ex-b1-1", None),
    ]


def subscribers(a: Tenant, b: Tenant) -> list[Subscriber]:
    p, q, ws_a, ws_b = a.projects, b.projects, a.workspace_id, b.workspace_id
    return [
        Subscriber("a key 0", a.key(0), ws_a, {p[0]}),
        Subscriber("a key 1", a.key(1), ws_a, {p[1]}),
        Subscriber("a key 2", a.key(2), ws_a, {p[2]}),
        Subscriber("a owner", a.user("owner"), ws_a),
        Subscriber("a member", a.user("member"), ws_a),
        Subscriber("a viewer", a.user("viewer"), ws_a),
        Subscriber("a service", a.service(SERVICE_TOKEN), ws_a),
        Subscriber("a member, project 0", a.user("member"), ws_a, {p[0]}, params={"project_id": p[0]}),
        Subscriber("a viewer, project 2", a.user("viewer"), ws_a, {p[2]}, params={"project_id": p[2]}),
        Subscriber("a service, project 1", a.service(SERVICE_TOKEN), ws_a, {p[1]}, params={"project_id": p[1]}),
        Subscriber("a owner, session", a.user("owner"), ws_a, None, "ex-a1-1", {"session_id": "ex-a1-1"}),
        Subscriber("a key 2, session", a.key(2), ws_a, {p[2]}, "ex-a2-2", {"session_id": "ex-a2-2"}),
        Subscriber("a member, session", a.user("member"), ws_a, None, "ex-a0-2", {"session_id": "ex-a0-2"}),
        Subscriber("a key 0, own project", a.key(0), ws_a, {p[0]}, params={"project_id": p[0]}),
        Subscriber("a owner, workspace", a.user("owner"), ws_a, params={"workspace_id": ws_a}),
        Subscriber("b key 0", b.key(0), ws_b, {q[0]}),
        Subscriber("b key 1", b.key(1), ws_b, {q[1]}),
        Subscriber("b member", b.user("member"), ws_b),
        Subscriber("b service", b.service(SERVICE_TOKEN), ws_b),
        Subscriber("b viewer, session", b.user("viewer"), ws_b, None, "ex-b1-1", {"session_id": "ex-b1-1"}),
    ]


async def write(http: httpx.AsyncClient, writer: Writer, rng: random.Random) -> None:
    await start_trace(http, writer.headers, writer.trace_id,
                      **({"project_id": writer.project_id} if writer.project_id else {}))
    seq = 0
    for _ in range(rng.randrange(8, 14)):
        count = rng.randrange(1, 9)
        await append(http, writer.headers, writer.trace_id, log_events(seq, count, writer.trace_id))
        seq += count
    await append(http, writer.headers, writer.trace_id,
                 {"events": [{"seq": seq, "type": "session.end", "payload": {"outcome": "success"}}]})


async def emit_incidents(database_url: str, tenant: Tenant, rng: random.Random) -> None:
    for project_id in tenant.projects:
        await asyncio.sleep(rng.uniform(0, 0.2))  # spread among the writes; not an assertion
        await emit_as_service(database_url, tenant.workspace_id, project_id, None, "incident.updated",
                              '{"id": "inc_x", "status": "open"}')


async def follow(http: httpx.AsyncClient, subscriber: Subscriber, rng: random.Random) -> None:
    """Read, drop the connection at a random moment, resume from the last id received; until the target."""
    while True:
        cursor: dict[str, Any] = (
            {"last_event_id": subscriber.received[-1].id} if subscriber.received else {"after_seq": 0})
        subscriber.connects += 1
        async with open_stream(http, subscriber.headers, **cursor, **subscriber.params) as stream:
            assert stream.response.status_code == 200, (subscriber.name, await stream.response.aread())
            for _ in range(rng.randrange(1, 30)):
                try:
                    async with asyncio.timeout(rng.uniform(0.01, 0.3)):
                        message = await stream.next_message()
                except TimeoutError:
                    break  # dropped mid-wait, possibly mid-message
                assert message is not None and message.event not in ("close", "reset"), (subscriber.name, message)
                subscriber.received.append(message)
        reached = subscriber.received[-1].position if subscriber.received else 0
        if subscriber.target is not None and reached >= subscriber.target:
            return


def received_as_committed(message: SseBlock) -> tuple[int, str | None, str, str | None, int | None]:
    data = message.json()
    seq = data["event"]["seq"] if message.event == "trace.event" else None
    return message.position, message.event, data["project_id"], data["session_id"], seq


def test_concurrent_writers_and_resuming_subscribers_lose_nothing_and_repeat_nothing(
    server: RunningServer, tenant: Tenant, other_tenant: Tenant, database_url: str
) -> None:
    rng = random.Random(SEED)
    a, b = tenant, other_tenant
    run(add_third_project(database_url, a))
    followers = subscribers(a, b)

    async def scenario() -> None:
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10, limits=limits) as reading, \
                httpx.AsyncClient(base_url=server.base_url, timeout=10, limits=limits) as writing:
            following = [asyncio.create_task(follow(reading, s, random.Random(rng.random()))) for s in followers]
            await asyncio.gather(*(write(writing, w, random.Random(rng.random())) for w in writers(a, b)),
                                 emit_incidents(database_url, a, random.Random(rng.random())))
            committed = {t.workspace_id: await committed_messages(database_url, t.workspace_id) for t in (a, b)}
            for s in followers:
                expected = visible(committed[s.workspace_id], s.project_ids, s.session_id)
                s.target = expected[-1].position
            await asyncio.gather(*following)
            # Messages may keep coming after the writers (an analysis run on session end): compare everything
            # committed up to the last position each subscriber received.
            committed = {t.workspace_id: await committed_messages(database_url, t.workspace_id) for t in (a, b)}
        for s in followers:
            reached = s.received[-1].position
            expected = [c for c in visible(committed[s.workspace_id], s.project_ids, s.session_id)
                        if c.position <= reached]
            assert [received_as_committed(m) for m in s.received] == [
                (c.position, c.kind, c.project_id, c.session_id, c.seq) for c in expected], s.name
            assert s.connects > 1, f"{s.name} never resumed"
        assert all({m.json()["workspace_id"] for m in s.received} == {s.workspace_id} for s in followers)

    run(scenario(), timeout=60)
