"""Reads whose cost does not grow with history: the stream's backfill and fetch and the session list
are served by their indexes when run as a request role, under RLS (sql/schema/0012).

auto_explain records the plan of every statement nested in the `api.*` functions, as executed
with the request role's claims; the test reads those plans from the notices it sends. The data
(20,000 sessions and stream rows) lives in one transaction that is rolled back, in a database of
the module's own, so other tests' rows cannot move the planner's statistics.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from api.config import Settings
from tests.support.tenants import Tenant, make_tenant

ROWS = 20_000


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


class PlanRecorder:
    """The plans auto_explain reports while a statement runs (log_level = notice)."""

    def __init__(self) -> None:
        self.plans: list[dict[str, Any]] = []

    def __call__(self, _conn: object, message: asyncpg.PostgresLogMessage) -> None:
        text = message.message
        if "plan:" in text:
            self.plans.append(json.loads(text.split("plan:", 1)[1])["Plan"])

    def scans_of(self, table: str) -> list[tuple[str, str | None]]:
        return [(node["Node Type"], node.get("Index Name")) for plan in self.plans for node in _nodes(plan)
                if node.get("Relation Name") == table]


async def _seed(conn: asyncpg.Connection, tenant: Tenant) -> None:
    ws, (p1, p2) = tenant.workspace_id, tenant.projects[:2]
    await conn.execute(
        """
        insert into app.trace_sessions (workspace_id, project_id, trace_id, agent, environment, tags, status, ended_at,
            created_at, create_hash)
        select $1, case when g % 2 = 0 then $2 else $3 end, 'plan-' || g,
            jsonb_build_object('name', 'agent-' || g % 20), 'env-' || g % 10, array['tag-' || g % 50],
            s.status, case when s.status <> 'running' then now() end,
            now() - make_interval(secs => $4 - g), '\\x00'
        from generate_series(1, $4) as g
        cross join lateral (select (array['running', 'success', 'failure', 'error', 'cancelled'])[1 + g % 5] as status)
            as s
        """, ws, p1, p2, ROWS)
    await conn.execute(
        """
        insert into app.stream_messages (workspace_id, position, message_count, kind, project_id, trace_id, payload)
        select $1, g, 1, 'session.updated', case when g % 2 = 0 then $2 else $3 end, 'plan-' || g, '{}'
        from generate_series(1, $4) as g
        """, ws, p1, p2, ROWS)
    await conn.execute("insert into app.stream_counters (workspace_id, last_position) values ($1, $2)", ws, ROWS)
    await conn.execute("analyze app.trace_sessions; analyze app.stream_messages")


async def _record_plans(database_url: str, tenant: Tenant, calls: list[tuple[str, str, tuple[Any, ...]]]
                        ) -> dict[str, PlanRecorder]:
    conn = await asyncpg.connect(database_url)
    recorders: dict[str, PlanRecorder] = {}
    try:
        transaction = conn.transaction()
        await transaction.start()
        await _seed(conn, tenant)
        await conn.execute("load 'auto_explain'")
        for setting in ("log_min_duration = 0", "log_nested_statements = on", "log_level = notice",
                        "log_format = json"):
            await conn.execute(f"set local auto_explain.{setting}")
        key_claims = {"role": "agentdeck_key",
                      "key_hash": hashlib.sha256(tenant.keys[tenant.projects[0]].encode()).hexdigest()}
        member_claims = {"role": "authenticated", "sub": tenant.users["member"], "aud": "authenticated"}
        claims = {"key": ("agentdeck_key", key_claims), "member": ("authenticated", member_claims)}
        for name, who, (sql, *args) in calls:
            role, claim = claims[who]
            await conn.execute("select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)",
                               role, json.dumps(claim))
            recorders[name] = recorder = PlanRecorder()
            conn.add_log_listener(recorder)
            await conn.fetch(sql, *args)
            conn.remove_log_listener(recorder)
            await conn.execute("reset role")
        await transaction.rollback()
    finally:
        await conn.close()
    return recorders


@pytest.fixture(scope="module")
def plans(module_database: str, settings: Settings) -> dict[str, PlanRecorder]:
    # A database of its own: the plans must not depend on the rows other tests left behind.
    database_url = module_database
    tenant = make_tenant(database_url, settings)
    ws, project = tenant.workspace_id, tenant.projects[0]
    near_head = ROWS - 100
    backfill = "select * from api.stream_backfill($1, $2, null, $3, 500)"
    sessions = "select api.list_sessions($1::jsonb)"

    def page(**filters: object) -> tuple[str, str]:
        return sessions, json.dumps({"limit": 50, **filters})

    calls: list[tuple[str, str, tuple[Any, ...]]] = [
        ("backfill_key", "key", (backfill, ws, project, near_head)),
        ("backfill_member", "member", (backfill, ws, None, near_head)),
        ("backfill_member_project", "member", (backfill, ws, project, near_head)),
        ("sessions_default", "member", page()),
        ("sessions_key", "key", page()),
        ("sessions_project", "member", page(project_id=project)),
        ("sessions_status", "member", page(status="error")),
        ("sessions_agent", "member", page(agent="agent-7")),
        ("sessions_environment", "member", page(environment="env-3")),
        ("sessions_since", "member", page(since="2000-01-01T00:00:00Z")),
        ("sessions_until", "member", page(until="2100-01-01T00:00:00Z")),
    ]
    return asyncio.run(_record_plans(database_url, tenant, calls))


@pytest.mark.parametrize(("call", "index"), [
    ("backfill_key", "stream_messages_project_end_idx"),
    ("backfill_member", "stream_messages_workspace_end_idx"),
    ("backfill_member_project", "stream_messages_project_end_idx"),
])
def test_stream_backfill_reads_its_index_under_rls(plans: dict[str, PlanRecorder], call: str, index: str) -> None:
    scans = plans[call].scans_of("stream_messages")
    assert scans and all(kind in ("Index Scan", "Index Only Scan") for kind, _ in scans), scans
    assert index in {name for _, name in scans}, scans


@pytest.mark.parametrize(("call", "index"), [
    ("sessions_default", "trace_sessions_workspace_created_idx"),
    ("sessions_key", "trace_sessions_project_created_idx"),
    ("sessions_project", "trace_sessions_project_created_idx"),
    ("sessions_status", "trace_sessions_status_created_idx"),
    ("sessions_agent", "trace_sessions_agent_created_idx"),
    ("sessions_environment", "trace_sessions_environment_created_idx"),
    ("sessions_since", "trace_sessions_workspace_created_idx"),
    ("sessions_until", "trace_sessions_workspace_created_idx"),
])
def test_session_list_reads_its_index_under_rls(plans: dict[str, PlanRecorder], call: str, index: str) -> None:
    scans = plans[call].scans_of("trace_sessions")
    assert scans, "no plan read app.trace_sessions"
    assert all(kind in ("Index Scan", "Index Only Scan") for kind, _ in scans), scans
    assert index in {name for _, name in scans}, scans
