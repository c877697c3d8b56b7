"""The SDK against a real server: order, counts, rejections surfaced, outages survived, drops counted exactly."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from agentdeck import RetryPolicy, Tracer
from api.app import create_app
from tests.api.conftest import settings_for
from tests.support.server import RunningServer
from tests.support.tenants import Tenant

FAST_RETRY = RetryPolicy(base_seconds=0.02, max_seconds=0.1)


def key_of(tenant: Tenant) -> str:
    return tenant.keys[tenant.projects[0]]


def stored(client: httpx.Client, tenant: Tenant, trace_id: str) -> list[dict[str, Any]]:
    page = client.get(f"/api/traces/{trace_id}/events", params={"limit": 5000}, headers=tenant.key())
    assert page.status_code == 200, page.text
    return page.json()["events"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server_on(database_url: str) -> Callable[[int], RunningServer]:
    """A server of its own on a given port, so a test can stop it and start another in its place."""
    return lambda port: RunningServer(create_app(settings_for(database_url), database_url), port=port)


def test_session_events_arrive_in_order_and_flush_counts_them(client: httpx.Client, server: RunningServer,
                                                              tenant: Tenant) -> None:
    with Tracer(server.base_url, key_of(tenant), retry=FAST_RETRY) as tracer:
        with tracer.session(name="checkout", agent="shopper", task_key="task-7", tools=["search"]) as session:
            request = session.llm_request("gpt-4o", [{"role": "user", "content": "shoes"}])
            session.llm_response("gpt-4o", usage={"input_tokens": 3}, content="searching", parent_seq=request)
            call = session.tool_call("search", {"q": "shoes"})
            session.tool_result("search", output=["a", "b"], parent_seq=call)
            session.log("picked a", level="info")
            session.assertion(True, expected="a", actual="a")
            session.custom("cart", {"items": 1})
        counts = tracer.flush()
    assert (counts.accepted, counts.duplicates, counts.rejected, counts.dropped, counts.pending) == (9, 0, 0, 0, 0)
    events = stored(client, tenant, session.id)
    assert [e["type"] for e in events] == ["session.start", "llm.request", "llm.response", "tool.call",
                                           "tool.result", "log", "assertion", "custom.cart", "session.end"]
    assert [e["seq"] for e in events] == list(range(9))
    assert events[2]["parent_seq"] == request and events[4]["parent_seq"] == call
    assert events[0]["payload"] == {"agent": {"name": "shopper"}, "tools": ["search"]}
    sessions = client.get("/api/sessions", headers=tenant.key()).json()["sessions"]
    [row] = [s for s in sessions if s["id"] == session.id]
    assert row["metadata"] == {"task_key": "task-7"}
    assert row["status"] == "success"


def test_a_rejected_event_is_surfaced_in_flush_and_stats_never_swallowed(server: RunningServer,
                                                                         tenant: Tenant) -> None:
    with Tracer(server.base_url, key_of(tenant), retry=FAST_RETRY) as tracer:
        session = tracer.session()
        session.event("no.such_type", {})
        session.tool_call("ok", {})
        counts = tracer.flush()
        assert (counts.accepted, counts.rejected) == (2, 1)
        [rejection] = counts.rejections
        assert (rejection.trace_id, rejection.seq, rejection.code) == (session.id, 1, "invalid")
        assert tracer.stats().rejected == 1
        assert tracer.flush().rejections == ()  # each flush reports what happened since the last one


def test_an_exception_in_the_session_block_ends_it_with_error(client: httpx.Client, server: RunningServer,
                                                              tenant: Tenant) -> None:
    with Tracer(server.base_url, key_of(tenant), retry=FAST_RETRY) as tracer:
        with pytest.raises(ZeroDivisionError):
            with tracer.session() as session:
                _ = 1 / 0
        tracer.flush()
    end = stored(client, tenant, session.id)[-1]
    assert end["type"] == "session.end" and end["payload"]["outcome"] == "error"
    assert end["payload"]["error"]["type"] == "ZeroDivisionError"


def test_async_session_and_aflush(client: httpx.Client, server: RunningServer, tenant: Tenant) -> None:
    tracer = Tracer(server.base_url, key_of(tenant), retry=FAST_RETRY)

    async def agent() -> tuple[Any, Any]:
        async with tracer.session(id="sdk-async-" + tenant.workspace_id[3:]) as session:
            session.log("inside the loop")
        return session, await tracer.aflush()

    session, counts = asyncio.run(agent())
    tracer.close()
    assert counts.accepted == 3
    assert [e["type"] for e in stored(client, tenant, session.id)] == ["session.start", "log", "session.end"]


def test_artifacts_upload_from_bytes_and_path(client: httpx.Client, server: RunningServer, tenant: Tenant,
                                              tmp_path: Any) -> None:
    path = tmp_path / "page.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    with Tracer(server.base_url, key_of(tenant), retry=FAST_RETRY) as tracer:
        with tracer.session() as session:
            from_bytes = session.artifact(b"log line\n", kind="log", content_type="text/plain")
            from_path = session.artifact(path)
        counts = tracer.flush()
    assert counts.accepted == 4 and counts.rejected == 0
    assert from_bytes.result(timeout=5)["size_bytes"] == 9
    assert from_path.result(timeout=5)["content_type"] == "image/png"
    artifacts = [e for e in stored(client, tenant, session.id) if e["type"] == "artifact"]
    assert [a["payload"]["artifact_id"] for a in artifacts] == [from_bytes.result()["artifact_id"],
                                                                 from_path.result()["artifact_id"]]


def test_server_killed_mid_run_and_restarted_loses_nothing_and_duplicates_nothing(
        client: httpx.Client, server_on: Callable[[int], RunningServer], tenant: Tenant) -> None:
    port = free_port()
    tracer = Tracer(f"http://127.0.0.1:{port}", key_of(tenant), retry=FAST_RETRY)
    with server_on(port):
        session = tracer.session()
        for index in range(60):
            session.tool_call("step", {"i": index})
        first = tracer.flush(timeout=30)
    # The server is gone: the run goes on, its events wait in the buffer and are retried.
    for index in range(60, 120):
        session.tool_call("step", {"i": index})
    session.end("success")
    deadline = time.monotonic() + 30
    while tracer.stats().retries == 0 and time.monotonic() < deadline:
        assert tracer.flush(timeout=0.1).pending > 0  # nothing can land while the server is down
    assert tracer.stats().retries > 0
    with server_on(port):
        second = tracer.flush(timeout=30)
        tracer.close()
    events = stored(client, tenant, session.id)
    assert [e["seq"] for e in events] == list(range(122))
    assert [e["payload"]["arguments"]["i"] for e in events[1:-1]] == list(range(120))
    total = (first.accepted + first.duplicates) + (second.accepted + second.duplicates)
    assert total == 122 and first.rejected == second.rejected == 0
    assert tracer.stats().dropped == 0


def test_outage_longer_than_the_buffer_drops_exactly_the_missing_events(
        client: httpx.Client, server_on: Callable[[int], RunningServer], tenant: Tenant) -> None:
    port = free_port()
    tracer = Tracer(f"http://127.0.0.1:{port}", key_of(tenant), retry=FAST_RETRY, max_buffer=25)
    session = tracer.session()  # its session.start is the first of the 25 the buffer holds
    seqs = [session.tool_call("step", {"i": index}) for index in range(100)]
    dropped = [seq for seq in seqs if seq < 0]
    session.end("success")  # never dropped
    stats = tracer.stats()
    assert stats.dropped_buffer_full == len(dropped) == 100 - 24
    with server_on(port):
        counts = tracer.flush(timeout=30)
        tracer.close()
    events = stored(client, tenant, session.id)
    calls = [e for e in events if e["type"] == "tool.call"]
    assert 100 - len(calls) == stats.dropped_buffer_full  # the drop count is exactly what is missing
    [notice] = [e for e in events if e["type"] == "log"]
    assert notice["payload"]["dropped"] == stats.dropped_buffer_full
    assert events[-1]["type"] == "session.end"
    assert counts.dropped == stats.dropped_buffer_full and counts.accepted == len(events)


def test_batches_stay_within_the_servers_count_and_byte_limits(client: httpx.Client, server: RunningServer,
                                                               tenant: Tenant) -> None:
    with Tracer(server.base_url, key_of(tenant), retry=FAST_RETRY, flush_interval=5) as tracer:
        session = tracer.session()
        for index in range(2500):
            session.log(f"line {index}")
        for _ in range(3):
            session.custom("blob", {"data": "x" * (2 * 1024 * 1024)})  # 3 × 2 MiB: more than one request
        counts = tracer.flush(timeout=60)
    assert (counts.accepted, counts.rejected) == (2504, 0), counts.rejections
    assert len(stored(client, tenant, session.id)) == 2504


def test_events_not_flushed_are_delivered_at_interpreter_exit(client: httpx.Client, server: RunningServer,
                                                              tenant: Tenant) -> None:
    trace_id = "sdk-exit-" + tenant.workspace_id[3:]
    program = (
        "import sys; from agentdeck import Tracer\n"
        "tracer = Tracer(sys.argv[1], sys.argv[2], flush_interval=60)\n"
        "session = tracer.session(id=sys.argv[3])\n"
        "for i in range(50): session.log(f'line {i}')\n"
    )
    subprocess.run([sys.executable, "-c", program, server.base_url, key_of(tenant), trace_id], check=True,
                   timeout=60)
    assert len(stored(client, tenant, trace_id)) == 51
