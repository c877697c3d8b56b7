"""Two `agentdeck serve` processes on one database (docs/deployment.md): a stream read from one
replica is exact while another replica writes, and analyses queued on one are done once by the
workers of both."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from api.migrate import migrate
from tests.api.conftest import JWT_SECRET, SERVICE_TOKEN, settings_for
from tests.support.aio import run
from tests.support.serve_process import serve_process
from tests.support.sse import SseStream, open_stream
from tests.support.tenants import Tenant, make_tenant
from tests.support.writes import append, log_events, start_trace

WRITERS, BATCHES, BATCH = 4, 5, 10
# Per session: its creation, its events, and the session.updated of its session.end.
TRACE_POSITIONS = WRITERS * (1 + BATCHES * BATCH + 1)


async def _follow(stream: SseStream) -> list[tuple[int, str]]:
    """Every message until each session's analysis has been announced."""
    seen: list[tuple[int, str]] = []
    async for message in stream:
        assert message.event not in ("close", "reset"), message
        seen.append((message.position, message.event or ""))
        if sum(kind == "analysis.completed" for _, kind in seen) == WRITERS:
            return seen
    raise AssertionError(f"the stream ended after {len(seen)} messages")


async def _write(http: httpx.AsyncClient, tenant: Tenant, writer: int) -> None:
    trace = f"replica-{writer}"
    await start_trace(http, tenant.key(), trace)
    for batch in range(BATCHES):
        events = log_events(batch * BATCH, BATCH)
        if batch == BATCHES - 1:
            events["events"][-1] = {"seq": BATCHES * BATCH - 1, "type": "session.end",
                                    "payload": {"outcome": "success"}}
        assert (await append(http, tenant.key(), trace, events))["accepted"] == BATCH


def test_stream_is_exact_across_replicas_and_analyses_run_once(empty_database: str) -> None:
    asyncio.run(migrate(empty_database))
    tenant = make_tenant(empty_database, settings_for(empty_database))
    env = {"AGENTDECK_JWT_SECRET": JWT_SECRET, "AGENTDECK_SERVICE_TOKEN": SERVICE_TOKEN,
           "AGENTDECK_RATE_PER_SECOND": "100000", "AGENTDECK_RATE_BURST": "100000"}

    async def scenario(writer_url: str, reader_url: str) -> tuple[list[list[tuple[int, str]]], list[asyncpg.Record]]:
        async with (httpx.AsyncClient(base_url=writer_url, timeout=20) as writer,
                    httpx.AsyncClient(base_url=reader_url, timeout=20) as reader,
                    open_stream(reader, tenant.key(), after_seq=0) as by_key,
                    open_stream(reader, tenant.user("member"), after_seq=0) as by_member):
            follows = [asyncio.create_task(_follow(s)) for s in (by_key, by_member)]
            await asyncio.gather(*(_write(writer, tenant, w) for w in range(WRITERS)))
            streams = await asyncio.gather(*follows)
        conn = await asyncpg.connect(empty_database)
        try:
            # The analysis is announced before its job is marked done (a second transaction).
            for _ in range(400):
                if not await conn.fetchval("select count(*) from app.analysis_jobs where status <> 'done'"):
                    break
                await asyncio.sleep(0.05)
            jobs = await conn.fetch("select j.status, j.attempts, a.source from app.analysis_jobs as j"
                                    " left join app.analyses as a using (workspace_id, project_id, trace_id)")
        finally:
            await conn.close()
        return streams, jobs

    with serve_process(empty_database, **env) as first, serve_process(empty_database, **env) as second:
        streams, jobs = run(scenario(first.base_url, second.base_url), timeout=90)

    for seen in streams:
        positions = [position for position, _ in seen]
        # Exact: every position from 1 on, once, in order (only project 0 is written to).
        assert positions == list(range(1, len(positions) + 1))
        assert sum(kind == "trace.event" for _, kind in seen) == WRITERS * BATCHES * BATCH
        assert len(seen) >= TRACE_POSITIONS + WRITERS
    assert streams[0] == streams[1]
    assert len(jobs) == WRITERS
    assert {(job["status"], job["attempts"], job["source"]) for job in jobs} == {("done", 1, "worker")}
