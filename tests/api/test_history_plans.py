"""Reads whose cost does not grow with history: the stream's backfill and fetch, the session list,
the lookups by id and an event page are served by their indexes when run as a request role, under
RLS (sql/schema/0012, 0015, 0016; docs/decisions/0015).

auto_explain records the plan of every statement nested in the `api.*` functions, as executed
with the request role's claims; the test reads those plans from the notices it sends. The data
(20,000 sessions and stream rows, and as many incidents, regression runs and artifacts) lives in one
transaction that is rolled back, in a database of the module's own, so other tests' rows cannot
move the planner's statistics.
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
# The row every lookup by id names: even, so in the first project, the one the API key sees.
TARGET = ROWS // 2
EVENTS = 2_000
INDEX_SCANS = ("Index Scan", "Index Only Scan")


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The plan's nodes that ran: a branch its filters rule out is planned but never executed."""
    if plan.get("Actual Loops") == 0:
        return
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
    # The target session holds 2,000 events in batches of 100, and app.events has no statistics:
    # an event page is estimated at one row, as on a fresh database.
    await conn.execute(
        """
        insert into app.events (workspace_id, project_id, trace_id, seq, idempotency_key, type, content_hash)
        select $1, $2, $3, g, $3 || ':' || g, 'tool.call', '\\x00' from generate_series(1, $4) as g
        """, ws, p1, f"plan-{TARGET}", EVENTS)
    await conn.execute(
        """
        insert into app.stream_messages (workspace_id, position, message_count, kind, project_id, trace_id, event_seqs)
        select $1, $4 + b * 100 + 1, 100, 'trace.event', $2, $3, array(select generate_series(b * 100 + 1, b * 100 + 100))
        from generate_series(0, $5 / 100 - 1) as b
        """, ws, p1, f"plan-{TARGET}", ROWS, EVENTS)
    await conn.execute("insert into app.stream_counters (workspace_id, last_position) values ($1, $2)",
                       ws, ROWS + EVENTS)
    # An OTLP session of as many spans, each stored under its span's key.
    await conn.execute(
        """
        insert into app.trace_sessions (workspace_id, project_id, trace_id, metadata, last_seq, event_count,
            created_at, create_hash)
        values ($1, $2, 'otlp-long', '{"source": "otlp"}', $3::bigint, $3::integer, now(), '\\x00')
        """, ws, p1, EVENTS)
    await conn.execute(
        """
        insert into app.events (workspace_id, project_id, trace_id, seq, idempotency_key, type, content_hash)
        select $1, $2, 'otlp-long', g, 'span-' || g, 'tool.call', '\\x00' from generate_series(1, $3) as g
        """, ws, p1, EVENTS)
    await conn.execute(
        """
        insert into app.incidents (workspace_id, incident_id, project_id, fingerprint, rules_version, label, message,
            first_seen, last_seen)
        select $1, 'inc_' || g, case when g % 2 = 0 then $2 else $3 end, md5('a' || g) || md5('b' || g), 1,
            'loop', '', now(), now()
        from generate_series(1, $4) as g
        """, ws, p1, p2, ROWS)
    # As many rows again across 1,000 small tenants: one big tenant skews the statistics, as in
    # production, so that an estimate from the average tenant cannot pick the big tenant's plan.
    await conn.execute(
        """
        insert into app.workspaces (workspace_id, name) select 'ws_other' || g, 'other' from generate_series(1, 1000) as g;
        insert into app.projects (workspace_id, project_id, name)
        select 'ws_other' || g, 'proj_other' || g, 'other' from generate_series(1, 1000) as g;
        """)
    await conn.execute(
        """
        insert into app.trace_sessions (workspace_id, project_id, trace_id, created_at, create_hash)
        select 'ws_other' || (1 + g % 1000), 'proj_other' || (1 + g % 1000), 'plan-' || g,
            now() - make_interval(secs => $1 - g), '\\x00'
        from generate_series(1, $1) as g;
        """, ROWS)
    await conn.execute(
        """
        insert into app.incidents (workspace_id, incident_id, project_id, fingerprint, rules_version, label, message,
            first_seen, last_seen)
        select 'ws_other' || (1 + g % 1000), 'inc_' || g, 'proj_other' || (1 + g % 1000),
            md5('a' || g) || md5('b' || g), 1, 'loop', '', now(), now()
        from generate_series(1, $1) as g
        """, ROWS)
    # Before the rows that reference them: a foreign-key check planned while its table looks empty
    # scans that table, once per row.
    await conn.execute("analyze app.trace_sessions; analyze app.incidents")
    await conn.execute(
        """
        insert into app.regression_runs (workspace_id, run_id, project_id, incident_id, fingerprint, pairing,
            detector_version, expected_after, deadline_at, due_at)
        select i.workspace_id, 'rr_' || substr(i.incident_id, 5), i.project_id, i.incident_id, i.fingerprint, 'order',
            '1', 1, now() + interval '1 day', now() + interval '1 day'
        from app.incidents as i
        """)
    await conn.execute(
        """
        insert into app.artifacts (workspace_id, artifact_id, project_id, trace_id, kind, content_type, size_bytes,
            sha256, storage_backend, storage_path)
        select s.workspace_id, 'art_' || substr(s.trace_id, 6), s.project_id, s.trace_id, 'screenshot', 'image/png',
            1, sha256(convert_to(s.trace_id, 'utf8')), 'local',
            s.workspace_id || '/' || s.project_id || '/' || s.trace_id || '.png'
        from app.trace_sessions as s
        """)
    # Every session of the big tenant is analysed (get_analysis answers 404 without one): labels
    # and verdicts for their filters, kept in app.session_facets by the analyses trigger.
    await conn.execute(
        """
        insert into app.analyses (workspace_id, project_id, trace_id, detector_version, input_digest, labels, verdict,
            source)
        select s.workspace_id, s.project_id, s.trace_id, '1', repeat('0', 64),
            jsonb_build_array(jsonb_build_object('label', 'label-' || g % 40)),
            (array['failed', 'succeeded_with_errors', 'succeeded', 'unknown'])[1 + g % 4], 'service'
        from generate_series(1, $2) as g
        inner join app.trace_sessions as s on s.workspace_id = $1 and s.trace_id = 'plan-' || g
        """, ws, ROWS)
    # The target run compares 1,000 of the first project's 10,000 sessions (500 before, 500 after).
    await conn.execute(
        """
        insert into app.regression_run_sessions (workspace_id, run_id, project_id, trace_id, side, task, ordinal)
        select $1, $2, $3, 'plan-' || (2 * g), case when g <= 500 then 'before' else 'after' end,
            '#' || (1 + (g - 1) % 500), 1 + (g - 1) % 500
        from generate_series(1, 1000) as g
        """, ws, f"rr_{TARGET}", p1)
    # The target incident shows in three of the oldest sessions: read newest first, the sessions
    # would all be read before its page filled.
    await conn.execute(
        """
        insert into app.incident_sessions (workspace_id, incident_id, project_id, trace_id, confidence, occurrences,
            seen_at)
        select $1, $2, $3, 'plan-' || g, 0.9, 1, now() from generate_series(2, 6, 2) as g
        """, ws, f"inc_{TARGET}", p1)
    await conn.execute("analyze app.stream_messages; analyze app.regression_runs; analyze app.regression_run_sessions; "
                       "analyze app.artifacts; "
                       "analyze app.analyses; analyze app.session_facets")


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
                        "log_format = json", "log_analyze = on", "log_timing = off"):
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
        # Last (it changes the plan cache mode): one session by its key, planned generically as a
        # foreign-key check or a writer's statement is, with no value to estimate the tenant by.
        await conn.execute("set local plan_cache_mode = force_generic_plan")
        await conn.execute("prepare session_by_key (text, text, text) as select from app.trace_sessions"
                           " where workspace_id = $1 and project_id = $2 and trace_id = $3")
        explained = await conn.fetchval("explain (format json) execute session_by_key"
                                        f"('{tenant.workspace_id}', '{tenant.projects[0]}', 'plan-{TARGET}')")
        recorders["session_by_key_generic"] = recorder = PlanRecorder()
        recorder.plans.append(json.loads(explained)[0]["Plan"])
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
    session_backfill = "select * from api.stream_backfill($1, $2, $3, $4, 500)"
    sessions = "select api.list_sessions($1::jsonb)"

    def page(**filters: object) -> tuple[str, str]:
        return sessions, json.dumps({"limit": 50, **filters})

    calls: list[tuple[str, str, tuple[Any, ...]]] = [
        ("backfill_key", "key", (backfill, ws, project, near_head)),
        ("backfill_member", "member", (backfill, ws, None, near_head)),
        ("backfill_member_project", "member", (backfill, ws, project, near_head)),
        # Positions 451-950 of the target session's events: six of its twenty batches, two in part.
        ("backfill_events", "key", (backfill, ws, project, ROWS + 450)),
        # One session's rows from the start: its 20 batches sit behind the workspace's 20,000 rows.
        ("backfill_session_key", "key", (session_backfill, ws, project, f"plan-{TARGET}", 0)),
        ("backfill_session_member", "member", (session_backfill, ws, None, f"plan-{TARGET}", 0)),
        ("sessions_default", "member", page()),
        ("sessions_key", "key", page()),
        ("sessions_project", "member", page(project_id=project)),
        ("sessions_status", "member", page(status="error")),
        ("sessions_agent", "member", page(agent="agent-7")),
        ("sessions_environment", "member", page(environment="env-3")),
        ("sessions_since", "member", page(since="2000-01-01T00:00:00Z")),
        ("sessions_until", "member", page(until="2100-01-01T00:00:00Z")),
        ("sessions_tag", "member", page(tag="tag-7")),
        ("sessions_tag_key", "key", page(tag="tag-8")),  # an even tag: the key's project
        ("sessions_label", "member", page(label="label-9")),
        ("sessions_verdict", "member", page(verdict="succeeded")),
        ("sessions_incident", "member", page(incident_id=f"inc_{TARGET}")),
        ("sessions_incident_key", "key", page(incident_id=f"inc_{TARGET}")),
    ]
    by_id: dict[str, tuple[Any, ...]] = {
        "events": ("select api.list_events($1, null, null, 10, null)", f"plan-{TARGET}"),
        # 500 events from the middle: five of the session's twenty batches.
        "events_page": ("select api.list_events($1, null, $2, 500, null)", f"plan-{TARGET}", EVENTS // 2),
        "analysis": ("select api.get_analysis($1, null)", f"plan-{TARGET}"),
        # No GET of one incident: its id is looked up (internal.visible_incident) by its run lists.
        "incident_regression_runs": ("select api.list_regression_runs($1, $2::jsonb)", f"inc_{TARGET}", '{"limit": 10}'),
        "incident_fix_runs": ("select api.list_fix_runs($1, $2::jsonb)", f"inc_{TARGET}", '{"limit": 10}'),
        "artifact": ("select api.get_artifact($1)", f"art_{TARGET}"),
        "regression_run": ("select api.get_regression_run($1)", f"rr_{TARGET}"),
    }
    calls += [(f"{name}_{who}", who, call) for name, call in by_id.items() for who in ("key", "member")]
    # An export re-sending the last 100 spans of the OTLP session: each is found by its key.
    resent = [{"index": i, "idempotency_key": f"span-{EVENTS - 99 + i}", "type": "tool.call", "payload": {}}
              for i in range(100)]
    calls.append(("otlp_resent", "key", ("select api.ingest_otlp($1::jsonb)", json.dumps(
        [{"session": {"id": "otlp-long", "metadata": {"source": "otlp"}}, "events": resent}]))))
    return asyncio.run(_record_plans(database_url, tenant, calls))


SESSION_BY_ID = {"trace_sessions_workspace_trace_idx", "trace_sessions_pkey"}


def assert_index_served(recorder: PlanRecorder, table: str, indexes: set[str]) -> None:
    """Every read of the table is an index scan, and one of them uses one of these indexes."""
    scans = recorder.scans_of(table)
    assert scans, f"no plan read app.{table}"
    assert all(kind in INDEX_SCANS for kind, _ in scans), scans
    assert indexes & {name for _, name in scans}, scans


@pytest.mark.parametrize(("call", "index"), [
    ("backfill_key", "stream_messages_project_end_idx"),
    ("backfill_member", "stream_messages_workspace_end_idx"),
    ("backfill_member_project", "stream_messages_project_end_idx"),
    ("backfill_session_key", "stream_messages_session_end_idx"),
    ("backfill_session_member", "stream_messages_session_end_idx"),
])
def test_stream_backfill_reads_its_index_under_rls(plans: dict[str, PlanRecorder], call: str, index: str) -> None:
    assert_index_served(plans[call], "stream_messages", {index})


def test_a_backfill_page_probes_each_of_its_events_once(plans: dict[str, PlanRecorder]) -> None:
    # As a join, a session estimated small (app.events has no statistics here) read all of its
    # events once per batch, and unnested the batch for each event (3.4 s for a 20-batch page of a
    # 20,000-event session); and every batch of the page was expanded, past the page's end too.
    scans = [node for plan in plans["backfill_events"].plans for node in _nodes(plan)
             if node.get("Relation Name") == "events"]
    assert scans and {node.get("Index Name") for node in scans} == {"events_pkey"}, scans
    assert all("seq = " in node["Index Cond"] for node in scans), scans
    assert sum(node["Actual Loops"] for node in scans) == 500, scans  # one probe per position of the page


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
    assert_index_served(plans[call], "trace_sessions", {index})


@pytest.mark.parametrize("call", ["sessions_tag", "sessions_tag_key", "sessions_label", "sessions_verdict",
                                  "sessions_incident", "sessions_incident_key"])
def test_tag_label_verdict_and_incident_filters_read_the_facets_newest_first(
    plans: dict[str, PlanRecorder], call: str
) -> None:
    # sql/schema/0016, 0017: one range of the filter's facet rows, then each session by its key.
    assert_index_served(plans[call], "session_facets", {"session_facets_list_idx"})
    assert_index_served(plans[call], "trace_sessions", SESSION_BY_ID)



@pytest.mark.parametrize("who", ["key", "member"])
@pytest.mark.parametrize(("call", "table", "indexes"), [
    ("events", "trace_sessions", SESSION_BY_ID),
    ("analysis", "trace_sessions", SESSION_BY_ID),
    ("incident_regression_runs", "incidents", {"incidents_pkey"}),
    ("incident_fix_runs", "incidents", {"incidents_pkey"}),
    ("artifact", "artifacts", {"artifacts_pkey"}),
    ("regression_run", "regression_runs", {"regression_runs_pkey"}),
])
def test_lookup_by_id_probes_the_id_index_under_rls_not_a_table_scan(
    plans: dict[str, PlanRecorder], call: str, table: str, indexes: set[str], who: str
) -> None:
    # Joined to internal.visible_projects() (estimated at 1000 rows) the lookup scanned the whole
    # table on PostgreSQL 15; it names the visible workspaces and the id, and checks the project after.
    assert_index_served(plans[f"{call}_{who}"], table, indexes)


@pytest.mark.parametrize("who", ["key", "member"])
def test_an_event_page_reads_only_its_own_batches_once(plans: dict[str, PlanRecorder], who: str) -> None:
    # A join of the page to its positions ran as a nested loop over the events (estimated at one),
    # reading the session's batches again for each event: 7 s for a 5,000-event page. And the
    # batches' range must be bounded at both ends, or every page reads all of a session's batches.
    scans = [node for plan in plans[f"events_page_{who}"].plans for node in _nodes(plan)
             if node.get("Relation Name") == "stream_messages"]
    assert scans and {node["Actual Loops"] for node in scans} == {1}, scans
    read = sum(node["Actual Rows"] + node.get("Rows Removed by Filter", 0) for node in scans)
    assert read == 5 + 1, scans  # the page's five batches, and the probe for the first one
    # And nothing large rides along with every event: a sort of the page stays in memory.
    sorts = [node for plan in plans[f"events_page_{who}"].plans for node in _nodes(plan) if node["Node Type"] == "Sort"]
    assert sorts and {node["Sort Space Type"] for node in sorts} == {"Memory"}, sorts


@pytest.mark.parametrize("who", ["key", "member"])
def test_a_regression_run_reads_its_sessions_by_key(plans: dict[str, PlanRecorder], who: str) -> None:
    # As joins, its members' sessions and analyses were hashed from every row of the project.
    recorder = plans[f"regression_run_{who}"]
    for table in ("trace_sessions", "analyses"):
        scans = recorder.scans_of(table)
        assert scans and all(kind in INDEX_SCANS for kind, _ in scans), (table, scans)


def test_an_otlp_export_finds_each_stored_span_by_its_key(plans: dict[str, PlanRecorder]) -> None:
    # Keyed by the span's JSON field, the lookup read the session's events by the primary key's
    # prefix and filtered the key (100 spans x 2,000 events); as a join, the whole session.
    scans = [node for plan in plans["otlp_resent"].plans for node in _nodes(plan)
             if node.get("Relation Name") == "events"]
    # EXPLAIN reports rows, and rows removed by a filter, per loop.
    read = sum((node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node["Actual Loops"] for node in scans)
    assert scans and read <= 1_000, scans


def test_one_session_by_its_key_is_found_by_an_index_bounded_by_its_id(plans: dict[str, PlanRecorder]) -> None:
    # sql/schema/0016's statistics: without them the generic plan read the big tenant's project
    # through trace_sessions_project_created_idx, whose range the session's id does not bound.
    assert_index_served(plans["session_by_key_generic"], "trace_sessions", SESSION_BY_ID)
