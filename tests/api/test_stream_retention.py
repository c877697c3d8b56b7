"""Stream retention end to end: the worker of `serve` prunes expired stream rows in bounded batches,
per workspace; old cursors then get `reset`, and replayed events lose only their positions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager

import asyncpg
import httpx

from tests.support.aio import run
from tests.support.server import RunningServer
from tests.support.sse import open_stream
from tests.support.tenants import Tenant
from tests.support.writes import append, log_events, start_trace

StartServer = Callable[..., AbstractContextManager[RunningServer]]


async def _watermark(conn: asyncpg.Connection, workspace_id: str) -> int:
    value: int = await conn.fetchval("select retained_after from app.stream_counters where workspace_id = $1",
                                     workspace_id)
    return value


def test_worker_prunes_expired_rows_per_workspace_and_old_cursors_get_reset(
    start_server: StartServer, tenant: Tenant, other_tenant: Tenant, database_url: str
) -> None:
    async def write(http: httpx.AsyncClient, who: Tenant) -> None:
        await start_trace(http, who.key(), "kept-short")  # position 1
        for first in (0, 3, 6):
            await append(http, who.key(), "kept-short", log_events(first, 3))  # 2-4, 5-7, 8-10

    async def scenario(base_url: str) -> None:
        conn = await asyncpg.connect(database_url)
        try:
            # The other workspace keeps its messages for ten days, longer than the server's one hour.
            await conn.execute("update app.workspaces set stream_retention = interval '10 days'"
                               " where workspace_id = $1", other_tenant.workspace_id)
            async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
                await write(http, tenant)
                await write(http, other_tenant)
                # Age everything before position 8 by two hours, as if written then.
                await conn.execute(
                    "update app.stream_messages set created_at = now() - interval '2 hours'"
                    " where workspace_id = any($1::text[]) and position < 8",
                    [tenant.workspace_id, other_tenant.workspace_id])
                deadline = asyncio.get_running_loop().time() + 20
                while await _watermark(conn, tenant.workspace_id) < 7:
                    assert asyncio.get_running_loop().time() < deadline, "the worker never pruned the expired rows"
                    await asyncio.sleep(0.05)
                assert await _watermark(conn, tenant.workspace_id) == 7, "young rows (8-10) are kept"
                assert await _watermark(conn, other_tenant.workspace_id) == 0, "its own retention keeps its rows"
                assert await conn.fetchval("select count(*) from app.stream_messages where workspace_id = $1",
                                           tenant.workspace_id) == 1

                async with open_stream(http, tenant.key(), last_event_id=3) as stream:
                    (reset,) = await stream.take(1)
                assert (reset.event, reset.position) == ("reset", 10)
                assert reset.json() == {"reason": "cursor_expired", "cursor": 3, "retained_after": 7, "head": 10}
                async with open_stream(http, tenant.key(), last_event_id=7) as stream:
                    assert [m.position for m in await stream.take(3)] == [8, 9, 10]

                page = (await http.get("/api/traces/kept-short/events", headers=tenant.key())).json()
                assert [(e["seq"], e["position"]) for e in page["events"]] == [
                    (0, None), (1, None), (2, None), (3, None), (4, None), (5, None), (6, 8), (7, 9), (8, 10)]
        finally:
            await conn.close()

    with start_server(AGENTDECK_STREAM_RETENTION_SECONDS="3600", AGENTDECK_STREAM_RETENTION_BATCH="1",
                      AGENTDECK_STREAM_RETENTION_INTERVAL_SECONDS="0.05") as running:
        run(scenario(running.base_url))
