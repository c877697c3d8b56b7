"""The worker's side of regression runs: SKIP LOCKED claims never hand one run to two workers,
concurrent workers settle each run once, an analysis stored while a run is being settled is never
lost, and before-sessions analysed by another detector version are re-analysed before the run is
judged."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager

import asyncpg
import httpx

from api import admin
from api.config import Settings
from api.db import Database, api_role_url
from api.detectors import SUITE_VERSION
from api.migrate import migrate
from api.worker import AnalysisWorker
from tests.api.conftest import SERVICE_TOKEN
from tests.support.incidents import fetch
from tests.support.regression import agent_run, failing_incident, settled
from tests.support.server import RunningServer
from tests.support.tenants import Tenant, make_tenant


async def _due_runs(url: str, count: int) -> str:
    """`count` pending runs past their deadline, each with one unanalysed before-session; returns the workspace."""
    await migrate(url)
    conn = await asyncpg.connect(url)
    try:
        ws = (await admin.create_workspace(conn, "runs"))["workspace_id"]
        proj = (await admin.create_project(conn, ws, "runs"))["project_id"]
        await conn.execute(
            "insert into app.incidents (workspace_id, incident_id, project_id, fingerprint, rules_version, label,"
            " message, first_seen, last_seen) values ($1, 'inc_w', $2, repeat('a', 64), 1, 'timeout', '', now(), now())",
            ws, proj)
        for n in range(count):
            await conn.execute("insert into app.trace_sessions (workspace_id, project_id, trace_id, create_hash)"
                               " values ($1, $2, $3, '\\x00')", ws, proj, f"s-{n}")
            await conn.execute(
                "insert into app.regression_runs (workspace_id, run_id, project_id, incident_id, fingerprint, pairing,"
                " detector_version, expected_after, deadline_at, due_at)"
                " values ($1, $2, $3, 'inc_w', repeat('a', 64), 'order', 'v', 1, now() - interval '1 s', now())",
                ws, f"rr_{n}", proj)
            await conn.execute(
                "insert into app.regression_run_sessions (workspace_id, run_id, project_id, trace_id, side, task,"
                " ordinal) values ($1, $2, $3, $4, 'before', '#1', 1)", ws, f"rr_{n}", proj, f"s-{n}")
        return ws
    finally:
        await conn.close()


def test_concurrent_claims_never_take_the_same_run(empty_database: str) -> None:
    async def scenario() -> list[str]:
        await _due_runs(empty_database, 5)
        conns = [await asyncpg.connect(api_role_url(empty_database)) for _ in range(8)]
        try:
            batches = await asyncio.gather(
                *(c.fetch("select * from internal.claim_regression_runs(1, 60)") for c in conns))
            again = await conns[0].fetch("select * from internal.claim_regression_runs(10, 60)")
            assert again == [], "claimed runs are leased: not due again until the lease runs out"
            return [row["run_id"] for batch in batches for row in batch]
        finally:
            for conn in conns:
                await conn.close()

    claimed = asyncio.run(scenario())
    assert sorted(claimed) == [f"rr_{n}" for n in range(5)], "each of 5 runs taken exactly once by 8 claimers"


def test_two_workers_settle_every_due_run_exactly_once(empty_database: str) -> None:
    async def scenario() -> list[asyncpg.Record]:
        ws = await _due_runs(empty_database, 6)
        db = await Database.connect(api_role_url(empty_database), min_size=1, max_size=4, statement_timeout_ms=10000,
                                    max_waiters=50)
        try:
            workers = [AnalysisWorker(db) for _ in range(2)]

            async def drain(worker: AnalysisWorker) -> None:
                while await worker.settle_regression_runs(batch=2):
                    pass

            await asyncio.gather(*(drain(w) for w in workers))
        finally:
            await db.close()
        conn = await asyncpg.connect(empty_database)
        try:
            return await conn.fetch(
                "select r.run_id, r.status, r.result #>> '{summary,before_analysed}' as analysed,"
                " (select count(*) from app.audit_log a where a.workspace_id = r.workspace_id"
                "  and a.target_id = r.run_id and a.action = 'regression_run.completed') as completions"
                " from app.regression_runs r where r.workspace_id = $1 order by r.run_id", ws)
        finally:
            await conn.close()

    rows = asyncio.run(scenario())
    # Past the deadline with nothing analysed: fail-closed, the one before task missing.
    assert [(r["status"], r["analysed"], r["completions"]) for r in rows] == [("failed", "0", 1)] * 6


def test_before_sessions_judged_by_another_version_are_reanalysed_first(
    client: httpx.Client, tenant: Tenant, database_url: str
) -> None:
    key = tenant.key()
    incident = failing_incident(client, key, "old", 2)
    for n in (1, 2):
        trace_id = f"old-before-{n}"
        current = client.get(f"/api/traces/{trace_id}/analysis", headers=key).json()
        # The same findings, as an older detector suite would have stored them.
        older = {"detector_version": "2020.1.0", "input_digest": current["input_digest"], "labels": current["labels"],
                 "critical_step": current["critical_step"]}
        stored = client.put(f"/api/traces/{trace_id}/analysis", json=older, headers=tenant.service(SERVICE_TOKEN))
        assert stored.status_code == 200, stored.text
        agent_run(client, key, f"old-after-{n}", "clean", task_key=f"old-t{n}")
    run = client.post(f"/api/incidents/{incident['id']}/regression-runs",
                      json={"after_session_ids": ["old-after-1", "old-after-2"]}, headers=key).json()
    assert run["status"] == "pending" and run["summary"]["before_analysed"] == 0

    done = settled(client, key, run["id"])
    assert done["status"] == "passed" and done["summary"]["before_analysed"] == 2
    versions = fetch(database_url, "select distinct detector_version from app.analyses where workspace_id = $1",
                     tenant.workspace_id)
    assert [r["detector_version"] for r in versions] == [SUITE_VERSION]
    assert done["summary"]["sign_test"]["improved"] == 2


def test_an_analysis_stored_while_a_worker_settles_the_run_makes_it_due_again(
    empty_database: str, settings: Settings, start_server: Callable[..., AbstractContextManager[RunningServer]]
) -> None:
    """The wake-up is never lost: the analysis waits for the settling worker's lock, then marks the run due."""
    asyncio.run(migrate(empty_database))
    tenant = make_tenant(empty_database, settings)
    key = tenant.key()
    # No worker of its own, and none shares this database: the test plays the worker.
    with start_server(empty_database, AGENTDECK_WORKER="0") as server, \
            httpx.Client(base_url=server.base_url, timeout=30) as client:
        agent_run(client, key, "lock-before-1", "not_found", task_key="lock-t1")
        assert client.post("/api/traces/lock-before-1/analyze", headers=key).status_code == 200
        [incident] = client.get("/api/incidents", headers=key).json()["incidents"]
        agent_run(client, key, "lock-after-1", "clean", task_key="lock-t1", end=False)
        run = client.post(f"/api/incidents/{incident['id']}/regression-runs",
                          json={"after_session_ids": ["lock-after-1"]}, headers=key).json()
        assert run["status"] == "pending"
        assert asyncio.run(asyncio.wait_for(_analysis_during_settling(empty_database, server, key, run["id"]), 30)), \
            "the run is due again after the worker let go"


async def _analysis_during_settling(database_url: str, server: RunningServer, key: dict[str, str], run_id: str) -> bool:
    admin_conn, observer = await asyncpg.connect(database_url), await asyncpg.connect(database_url)
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            settling = admin_conn.transaction()
            await settling.start()
            # A worker in the middle of settling: it holds the run and will schedule it for the deadline.
            await admin_conn.execute("select 1 from app.regression_runs where run_id = $1 for update", run_id)
            analyzing = asyncio.create_task(http.post("/api/traces/lock-after-1/analyze", headers=key))
            while not await observer.fetchval(
                "select exists (select from pg_stat_activity where datname = current_database()"
                " and wait_event_type = 'Lock' and query like '%api.store_analysis%')"
            ):
                assert not analyzing.done(), "the analysis must wait for the settling worker's lock"
                await asyncio.sleep(0.01)
            await admin_conn.execute("update app.regression_runs set due_at = deadline_at where run_id = $1",
                                     run_id)
            await settling.commit()
            assert (await analyzing).status_code == 200
        return bool(await admin_conn.fetchval(
            "select due_at <= now() from app.regression_runs where run_id = $1", run_id))
    finally:
        await admin_conn.close()
        await observer.close()
