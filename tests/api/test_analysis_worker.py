"""The analysis queue: SKIP LOCKED claims, leases, retries with backoff, and the worker end to end."""

from __future__ import annotations

import asyncio

import asyncpg

from api import admin
from api.db import Database, api_role_url
from api.migrate import migrate
from api.worker import AnalysisWorker


async def _prepare(url: str, sessions: int) -> tuple[str, str]:
    await migrate(url)
    conn = await asyncpg.connect(url)
    try:
        workspace = await admin.create_workspace(conn, "queue")
        project = await admin.create_project(conn, workspace["workspace_id"], "queue")
        ws, proj = workspace["workspace_id"], project["project_id"]
        for index in range(sessions):
            await conn.execute(
                "insert into app.trace_sessions (workspace_id, project_id, trace_id, create_hash, status, ended_at)"
                " values ($1, $2, $3, '\\x00', 'failure', now())", ws, proj, f"q-{index}")
            await conn.execute("insert into app.analysis_jobs (workspace_id, project_id, trace_id) values ($1, $2, $3)",
                               ws, proj, f"q-{index}")
        return ws, proj
    finally:
        await conn.close()


def test_concurrent_claims_never_take_the_same_job(empty_database: str) -> None:
    async def scenario() -> list[str]:
        await _prepare(empty_database, 5)
        api_url = api_role_url(empty_database)
        conns = [await asyncpg.connect(api_url) for _ in range(8)]
        try:
            rows = await asyncio.gather(*(c.fetchrow("select * from internal.claim_analysis_job(60)") for c in conns))
            return [r["trace_id"] for r in rows if r is not None]
        finally:
            for conn in conns:
                await conn.close()

    claimed = asyncio.run(scenario())
    assert sorted(claimed) == [f"q-{i}" for i in range(5)], "each of 5 jobs taken exactly once by 8 claimers"


def test_failures_back_off_then_fail_and_expired_leases_are_taken_again(empty_database: str) -> None:
    async def scenario() -> None:
        await _prepare(empty_database, 1)
        conn = await asyncpg.connect(api_role_url(empty_database))
        admin_conn = await asyncpg.connect(empty_database)
        try:
            job = await conn.fetchrow("select * from internal.claim_analysis_job(60)")
            assert job["attempts"] == 1
            assert await conn.fetchrow("select * from internal.claim_analysis_job(60)") is None, "leased"
            status = await conn.fetchval("select internal.finish_analysis_job($1, $2, $3, 'boom', 3)",
                                         job["workspace_id"], job["project_id"], job["trace_id"])
            assert status == "queued"
            backoff = await admin_conn.fetchval("select run_after - now() from app.analysis_jobs")
            assert backoff.total_seconds() > 1, "a failed attempt waits before its retry"
            assert await conn.fetchrow("select * from internal.claim_analysis_job(60)") is None, "not due yet"
            await admin_conn.execute("update app.analysis_jobs set run_after = now()")
            again = await conn.fetchrow("select * from internal.claim_analysis_job(60)")
            assert again["attempts"] == 2
            # A worker that died: its lease runs out and the job is due again.
            await admin_conn.execute("update app.analysis_jobs set lease_until = now() - interval '1 second'")
            third = await conn.fetchrow("select * from internal.claim_analysis_job(60)")
            assert third["attempts"] == 3
            final = await conn.fetchval("select internal.finish_analysis_job($1, $2, $3, 'boom', 3)",
                                        job["workspace_id"], job["project_id"], job["trace_id"])
            assert final == "failed"
            await admin_conn.execute("update app.analysis_jobs set run_after = now()")
            assert await conn.fetchrow("select * from internal.claim_analysis_job(60)") is None, "failed stays failed"
        finally:
            await conn.close()
            await admin_conn.close()

    asyncio.run(scenario())


def test_two_workers_drain_the_queue_and_store_each_analysis_once(empty_database: str) -> None:
    async def scenario() -> list[asyncpg.Record]:
        ws, _ = await _prepare(empty_database, 12)
        db = await Database.connect(api_role_url(empty_database), min_size=1, max_size=4, statement_timeout_ms=10000,
                                    max_waiters=50)
        try:
            workers = [AnalysisWorker(db) for _ in range(2)]

            async def drain(worker: AnalysisWorker) -> None:
                while await worker.run_one():
                    pass

            await asyncio.gather(*(drain(w) for w in workers))
        finally:
            await db.close()
        conn = await asyncpg.connect(empty_database)
        try:
            return await conn.fetch("select j.status, j.attempts, a.source from app.analysis_jobs j"
                                    " left join app.analyses a using (workspace_id, project_id, trace_id)")
        finally:
            await conn.close()

    rows = asyncio.run(scenario())
    assert len(rows) == 12
    assert {(r["status"], r["attempts"], r["source"]) for r in rows} == {("done", 1, "worker")}


def test_the_worker_outlives_its_connections_being_killed(empty_database: str) -> None:
    async def scenario() -> str:
        ws, _ = await _prepare(empty_database, 0)
        db = await Database.connect(api_role_url(empty_database), min_size=1, max_size=2, statement_timeout_ms=10000,
                                    max_waiters=50)
        worker = asyncio.create_task(AnalysisWorker(db, poll_seconds=0.05).run())
        admin_conn = await asyncpg.connect(empty_database)
        try:
            # Kill the worker's connection while it is inside a claim (blocked on a lock we hold).
            async with admin_conn.transaction():
                await admin_conn.execute("lock table app.analysis_jobs in access exclusive mode")
                blocked = None
                while blocked is None:
                    blocked = await admin_conn.fetchval(
                        "select pid from pg_stat_activity where usename = 'agentdeck_api'"
                        " and datname = current_database() and wait_event_type = 'Lock'")
                await admin_conn.fetchval("select pg_terminate_backend($1)", blocked)
            proj = await admin_conn.fetchval("select project_id from app.projects")
            await admin_conn.execute(
                "insert into app.trace_sessions (workspace_id, project_id, trace_id, create_hash, status, ended_at)"
                " values ($1, $2, 'after-kill', '\\x00', 'failure', now())", ws, proj)
            await admin_conn.execute(
                "insert into app.analysis_jobs (workspace_id, project_id, trace_id) values ($1, $2, 'after-kill')",
                ws, proj)
            async with asyncio.timeout(30):
                while (status := await admin_conn.fetchval("select status from app.analysis_jobs")) != "done":
                    assert not worker.done(), "the worker task died"
                    await asyncio.sleep(0.05)
            return str(status)
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
            await admin_conn.close()
            await db.close()

    assert asyncio.run(scenario()) == "done"
