"""The stream under failure: a killed listener, writes racing a backfill, a slow consumer, shutdown."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.db import api_role_url
from api.stream.hub import StreamHub
from api.stream.listener import APPLICATION_NAME
from api.stream.messages import StreamFilter
from tests.api.conftest import settings_for
from tests.support.aio import eventually, run
from tests.support.server import RunningServer
from tests.support.sse import SseBlock, open_stream
from tests.support.tenants import Tenant
from tests.support.writes import append, log_events, start_trace


@contextmanager
def app_server(database_url: str, **env: str) -> Iterator[tuple[str, Starlette]]:
    """A server of its own whose app (and so its stream hub) the test can reach."""
    app = create_app(settings_for(database_url, **env), database_url)
    with RunningServer(app) as running:
        yield running.base_url, app


async def terminate_backend(database_url: str, pid: int) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("select pg_terminate_backend($1, 5000)", pid)
    finally:
        await conn.close()


def stalled_socket_capacity() -> int:
    """Bytes the kernel buffers for a reader that stopped reading: the sender's largest send buffer
    plus the receiver's initial window, and the server's own 64 KiB write buffer."""
    send_max = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    receive_default = int(Path("/proc/sys/net/ipv4/tcp_rmem").read_text().split()[1])
    return send_max + receive_default + 65536


def test_killing_the_listener_connection_loses_nothing(database_url: str, tenant: Tenant) -> None:
    # No safety poll during the test: only the catch-up after reconnecting can deliver what was missed.
    with app_server(database_url, AGENTDECK_STREAM_POLL_SECONDS="3600") as (base_url, app):
        hub: StreamHub = app.state.stream_hub

        async def scenario() -> None:
            await eventually(lambda: hub.listener_pid is not None, what="the listener")
            async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
                async with open_stream(http, tenant.key(), after_seq=0) as stream:
                    await start_trace(http, tenant.key(), "killed-1")
                    await append(http, tenant.key(), "killed-1", log_events(0, 3))
                    before = await stream.take(4)
                    killed = hub.listener_pid
                    assert killed is not None
                    await terminate_backend(database_url, killed)
                    await append(http, tenant.key(), "killed-1", log_events(3, 3))  # nobody is listening
                    await eventually(lambda: hub.listener_pid not in (None, killed), what="a new listener")
                    await append(http, tenant.key(), "killed-1", log_events(6, 2))
                    after = await stream.take(5)
            assert [m.position for m in before + after] == list(range(1, 10))
            assert [m.json()["event"]["seq"] for m in after] == [3, 4, 5, 6, 7]

        run(scenario())


def test_the_listener_names_itself_and_is_not_a_pooled_connection(server: RunningServer, database_url: str) -> None:
    async def scenario() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            listeners: list[asyncpg.Record] = []
            while not listeners:  # the listener connects as the server starts; bounded by run()'s timeout
                await asyncio.sleep(0.01)
                listeners = await conn.fetch("select usename from pg_stat_activity where application_name = $1"
                                             " and datname = current_database()", APPLICATION_NAME)
        finally:
            await conn.close()
        assert {r["usename"] for r in listeners} == {"agentdeck_api"}

    run(scenario())


def test_writes_committed_during_the_backfill_are_sent_once_in_order(database_url: str, tenant: Tenant) -> None:
    with app_server(database_url, AGENTDECK_STREAM_PAGE_SIZE="4") as (base_url, app):
        hub: StreamHub = app.state.stream_hub
        paused = [threading.Event(), threading.Event()]
        resume = [threading.Event(), threading.Event()]
        calls = itertools.count()

        async def pause() -> None:
            # Runs in the server: holds the first backfill page, then the second, until the test resumes it.
            call = next(calls)
            if call < len(paused):
                paused[call].set()
                await asyncio.to_thread(resume[call].wait, 10)

        hub.pause_before_backfill = pause

        async def write_while_paused(http: httpx.AsyncClient, call: int, first_seq: int, count: int,
                                     head: int) -> None:
            assert await asyncio.to_thread(paused[call].wait, 10)
            await append(http, tenant.key(), "racing-1", log_events(first_seq, count))
            # The hub has handed these to the registered subscriber: they are queued and in the database.
            await eventually(lambda: (hub.read_through(tenant.workspace_id) or 0) >= head, what="the hub")
            resume[call].set()

        async def scenario() -> list[SseBlock]:
            async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
                await start_trace(http, tenant.key(), "racing-1")
                await append(http, tenant.key(), "racing-1", log_events(0, 9))  # positions 1..10
                async with open_stream(http, tenant.key(), after_seq=0) as stream:
                    reader = asyncio.create_task(stream.take(17))
                    await write_while_paused(http, 0, 9, 3, head=13)  # before the first page
                    await write_while_paused(http, 1, 12, 2, head=15)  # between the first and second pages
                    await append(http, tenant.key(), "racing-1", log_events(14, 2))  # live
                    return await reader

        received = run(scenario())
        assert [m.position for m in received] == list(range(1, 18))
        assert [m.json()["event"]["seq"] for m in received[1:]] == list(range(16))


def test_a_slow_subscriber_is_cut_off_with_bounded_memory_and_resumes_exactly(
    database_url: str, tenant: Tenant
) -> None:
    queue_max = 8
    with app_server(database_url, AGENTDECK_STREAM_QUEUE_MAX=str(queue_max)) as (base_url, app):
        hub: StreamHub = app.state.stream_hub
        payload = "x" * 60_000
        batches = stalled_socket_capacity() // len(payload) + 20

        async def scenario() -> tuple[list[SseBlock], SseBlock, list[SseBlock]]:
            async with httpx.AsyncClient(base_url=base_url, timeout=30) as writer, \
                    httpx.AsyncClient(base_url=base_url, timeout=30) as reader:
                await start_trace(writer, tenant.key(), "slow-1")
                async with open_stream(reader, tenant.key()) as stream:
                    assert (await stream.next_block()) is not None  # registered and live; now stop reading
                    for seq in range(batches):
                        await append(writer, tenant.key(), "slow-1", {"events": [
                            {"seq": seq, "type": "log", "payload": {"level": "info", "message": payload}}]})
                    first: list[SseBlock] = []
                    while (message := await stream.next_message()) is not None and message.event != "close":
                        first.append(message)
                    assert message is not None
                    assert await stream.next_block() is None
                async with open_stream(reader, tenant.key(), last_event_id=message.json()["last_event_id"]) as stream:
                    rest = await stream.take(batches + 1 - first[-1].position)
            return first, message, rest

        first, closing, rest = run(scenario())
        assert closing.json() == {"reason": "slow_consumer", "last_event_id": first[-1].position}
        assert len(first) < batches
        assert [m.position for m in first + rest] == list(range(2, batches + 2))
        assert 0 < hub.peak_queued <= queue_max


def test_a_client_that_reads_nothing_is_cut_off_after_the_send_timeout(database_url: str, tenant: Tenant) -> None:
    with app_server(database_url, AGENTDECK_STREAM_SEND_TIMEOUT_SECONDS="0.5") as (base_url, app):
        hub: StreamHub = app.state.stream_hub
        payload = "x" * 60_000
        batches = stalled_socket_capacity() // len(payload) + 20

        async def scenario() -> tuple[list[SseBlock], list[SseBlock]]:
            async with httpx.AsyncClient(base_url=base_url, timeout=30) as writer, \
                    httpx.AsyncClient(base_url=base_url, timeout=30) as reader:
                await start_trace(writer, tenant.key(), "stalled-1")
                async with open_stream(reader, tenant.key()) as stream:
                    assert (await stream.next_block()) is not None  # registered and live; now stop reading
                    for seq in range(batches):
                        await append(writer, tenant.key(), "stalled-1", {"events": [
                            {"seq": seq, "type": "log", "payload": {"level": "info", "message": payload}}]})
                    # The server gave up on this stream: its subscription, the workspace's only one, is gone.
                    await eventually(lambda: hub.read_through(tenant.workspace_id) is None, "the cut-off")
                    buffered: list[SseBlock] = []
                    with pytest.raises(httpx.RemoteProtocolError):  # the socket was closed mid-stream
                        async for message in stream:
                            buffered.append(message)
                async with open_stream(reader, tenant.key(), last_event_id=buffered[-1].position) as stream:
                    rest = await stream.take(batches + 1 - buffered[-1].position)
            return buffered, rest

        buffered, rest = run(scenario())
        assert [m.position for m in buffered + rest] == list(range(2, batches + 2))


def test_closing_the_hub_ends_its_subscriptions_and_its_listener(database_url: str, tenant: Tenant) -> None:
    async def listener_backends() -> set[int]:
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch("select pid from pg_stat_activity where application_name = $1", APPLICATION_NAME)
            return {r["pid"] for r in rows}
        finally:
            await conn.close()

    async def scenario() -> None:
        hub = StreamHub(api_role_url(database_url), settings_for(database_url).stream)
        hub.start()
        await eventually(lambda: hub.listener_pid is not None, what="the listener")
        pid = hub.listener_pid
        with hub.subscribe(StreamFilter(tenant.workspace_id, None), head=0) as subscription:
            await hub.close()
            assert subscription.closed
            assert await subscription.take(5) == []
        assert pid not in await listener_backends()

    run(scenario())

