"""Clustering under concurrency, on real concurrent connections through the request path (api/db.py).

Each scenario makes the overlap certain rather than likely: the first analysis holds its
transaction open until every other one is seen waiting on a lock behind it (pg_stat_activity),
then all commit. pgTAP cannot run two sessions; tests/sql/test_incidents_clustering.sql proves the
single-session contract.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import asyncpg
import httpx

from api.auth import Identity
from api.db import Database, api_role_url
from tests.support.incidents import analysis_result, fetch, finding
from tests.support.tenants import Tenant

STORE = "select api.store_analysis($1, $2, $3::jsonb, 'analyze')"


async def _waiting_behind_locks(admin: asyncpg.Connection) -> int:
    count: int = await admin.fetchval(
        "select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'"
        " and query like '%api.store_analysis%'"
    )
    return count


async def _analyse_overlapping(database_url: str, tenant: Tenant, jobs: list[tuple[str, dict[str, Any]]]) -> None:
    """Store every (trace id, result) in its own transaction, all of them open at once."""
    identity = Identity("service", "service_role", {"role": "service_role", "workspace_id": tenant.workspace_id})
    db = await Database.connect(api_role_url(database_url), min_size=1, max_size=len(jobs),
                                statement_timeout_ms=60_000, max_waiters=len(jobs))
    admin = await asyncpg.connect(database_url)
    first_stored, release = asyncio.Event(), asyncio.Event()

    async def store(trace_id: str, result: dict[str, Any], hold: bool) -> None:
        async with db.transaction(identity, readonly=False) as conn:
            await conn.fetchval(STORE, trace_id, tenant.projects[0], json.dumps(result))
            if hold:
                first_stored.set()
                await release.wait()

    try:
        (first_id, first_result), *others = jobs
        holder = asyncio.create_task(store(first_id, first_result, True))
        await asyncio.wait_for(first_stored.wait(), 30)
        followers = [asyncio.create_task(store(trace_id, result, False)) for trace_id, result in others]
        deadline = time.monotonic() + 30
        while await _waiting_behind_locks(admin) < len(others):
            assert time.monotonic() < deadline, "the other analyses never queued behind the first"
            assert not any(task.done() for task in followers), "an analysis finished without waiting"
            await asyncio.sleep(0.01)
        release.set()
        await asyncio.gather(holder, *followers)
    finally:
        await admin.close()
        await db.close()


def _create_sessions(client: httpx.Client, tenant: Tenant, trace_ids: list[str]) -> None:
    for trace_id in trace_ids:
        assert client.post("/api/traces", json={"id": trace_id}, headers=tenant.key()).status_code == 201


def _incidents(database_url: str, tenant: Tenant) -> dict[str, asyncpg.Record]:
    rows = fetch(database_url, "select * from app.incidents where workspace_id = $1", tenant.workspace_id)
    return {row["label"]: row for row in rows}


def test_concurrent_first_occurrences_make_one_incident_counting_every_session(
    client: httpx.Client, tenant: Tenant, database_url: str
) -> None:
    trace_ids = [f"race-{n}" for n in range(8)]
    _create_sessions(client, tenant, trace_ids)
    jobs = [(trace_id, analysis_result(finding("server_error", "pay", "HTTPError", f"503 from pay-{n}.internal",
                                               occurrences=1 + n % 3)))
            for n, trace_id in enumerate(trace_ids)]
    asyncio.run(_analyse_overlapping(database_url, tenant, jobs))

    incidents = _incidents(database_url, tenant)
    assert list(incidents) == ["server_error"]
    incident = incidents["server_error"]
    created = fetch(database_url, "select min(created_at), max(created_at) from app.trace_sessions"
                                  " where workspace_id = $1", tenant.workspace_id)[0]
    assert incident["session_count"] == 8
    assert incident["occurrence_count"] == sum(1 + n % 3 for n in range(8))
    assert (incident["first_seen"], incident["last_seen"]) == (created["min"], created["max"])


def test_concurrent_analyses_sharing_two_fingerprints_in_either_order_neither_deadlock_nor_miscount(
    client: httpx.Client, tenant: Tenant, database_url: str
) -> None:
    trace_ids = [f"cross-{n}" for n in range(12)]
    _create_sessions(client, tenant, trace_ids)

    def failures(timeout_seq: int, denied_seq: int) -> dict[str, Any]:
        return analysis_result(finding("timeout", "search", "TimeoutError", "timed out", critical_seq=timeout_seq),
                               finding("auth_error", "db", "PermissionDenied", "denied", critical_seq=denied_seq))

    # Half fail one way round, half the other: the lock order must not follow the sessions' steps.
    jobs = [(trace_id, failures(1, 2) if n % 2 else failures(2, 1)) for n, trace_id in enumerate(trace_ids)]
    asyncio.run(_analyse_overlapping(database_url, tenant, jobs))

    incidents = _incidents(database_url, tenant)
    assert sorted(incidents) == ["auth_error", "timeout"]
    assert all(row["session_count"] == 12 and row["occurrence_count"] == 12 for row in incidents.values())


def test_concurrent_reanalyses_of_one_session_count_it_once(
    client: httpx.Client, tenant: Tenant, database_url: str
) -> None:
    _create_sessions(client, tenant, ["again"])
    result = analysis_result(finding("not_found", "fetch_page", "HTTPError", "404: /a", occurrences=2))
    asyncio.run(_analyse_overlapping(database_url, tenant, [("again", result)] * 6))

    incident = _incidents(database_url, tenant)["not_found"]
    assert (incident["session_count"], incident["occurrence_count"]) == (1, 2)
    links = fetch(database_url, "select count(*) from app.incident_sessions where workspace_id = $1",
                  tenant.workspace_id)
    assert links[0]["count"] == 1
