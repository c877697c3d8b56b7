"""Read cost against history: the last stream backfill page and the first session page at 10,000,
100,000 and 1,000,000 rows, as the request roles run them (RLS on).

    python -m bench.history            (knobs: BENCH_HISTORY_SIZES=10000,100000,1000000, BENCH_REPEAT=30)

One workspace with two projects; history is grown in place with one `generate_series` insert per
table and step (stream rows are session.updated messages: one position each), then vacuumed
and analysed. At
each size, each read runs BENCH_REPEAT times in its own READ ONLY transaction with the request
role's claims, exactly as api/db.py sets them, on a connection of the pool's login role; the
median is printed. For contrast, "old
predicate" is the pre-0012 stream read (`position + message_count > $1`, not leakproof) as the
API key. Results go to stdout; record them in docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import statistics
import time
import uuid
from typing import Any

import asyncpg

from api import admin
from api.db import api_role_url
from bench.common import scratch_database

SIZES = [int(n) for n in os.environ.get("BENCH_HISTORY_SIZES", "10000,100000,1000000").split(",")]
REPEAT = int(os.environ.get("BENCH_REPEAT", "30"))
PAGE = 500

_SET = "select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)"
_GROW_SESSIONS = """
    insert into app.trace_sessions (workspace_id, project_id, trace_id, agent, environment, tags, status, ended_at,
        created_at, create_hash)
    select $1, case when g % 2 = 0 then $2 else $3 end, 'hist-' || g, jsonb_build_object('name', 'agent-' || g % 20),
        'env-' || g % 10, array['tag-' || g % 50], s.status, case when s.status <> 'running' then now() end,
        timestamptz '2026-01-01' + make_interval(secs => g), '\\x00'
    from generate_series($4 + 1, $5) as g
    cross join lateral (select (array['running', 'success', 'failure', 'error', 'cancelled'])[1 + g % 5] as status) as s
"""
_GROW_STREAM = """
    insert into app.stream_messages (workspace_id, position, message_count, kind, project_id, trace_id, payload)
    select $1, g, 1, 'session.updated', case when g % 2 = 0 then $2 else $3 end, 'hist-' || g,
        jsonb_build_object('id', 'hist-' || g, 'status', 'running')
    from generate_series($4 + 1, $5) as g
"""
# One incident shown by three of the oldest sessions: newest first, every later session comes before them.
_INCIDENT = """
    with incident as (
        insert into app.incidents (workspace_id, incident_id, project_id, fingerprint, rules_version, label, message,
            first_seen, last_seen)
        values ($1, 'inc_hist', $2, repeat('0', 64), 1, 'timeout', '', now(), now())
        returning workspace_id, incident_id, project_id
    )
    insert into app.incident_sessions (workspace_id, incident_id, project_id, trace_id, confidence, occurrences,
        seen_at)
    select i.workspace_id, i.incident_id, i.project_id, 'hist-' || g, 0.9, 1, now()
    from incident as i cross join generate_series(2, 6, 2) as g
"""
_OLD_PREDICATE = """
    select m.position from app.stream_messages as m
    where m.workspace_id = $1 and m.position + m.message_count > $2 + 1
    order by m.position + m.message_count limit $3
"""


async def _timed(conn: asyncpg.Connection, role: str, claims: dict[str, Any], sql: str, *args: Any) -> float:
    timings = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        async with conn.transaction(readonly=True):
            await conn.execute(_SET, role, json.dumps(claims))
            await conn.fetch(sql, *args)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


async def run(url: str, tenant: dict[str, str]) -> list[dict[str, float]]:
    conn = await asyncpg.connect(url)
    # The reads log in as the API's pool does (agentdeck_api, with its role settings), the growth as the admin.
    reader = await asyncpg.connect(api_role_url(url))
    ws, p1 = tenant["workspace_id"], tenant["project_id"]
    p2 = (await admin.create_project(conn, ws, "second"))["project_id"]
    member = str(uuid.uuid4())
    await admin.add_member(conn, ws, member, "member")
    key = {"role": "agentdeck_key", "key_hash": hashlib.sha256(tenant["key"].encode()).hexdigest()}
    user = {"role": "authenticated", "sub": member, "aud": "authenticated"}
    await conn.execute("insert into app.stream_counters (workspace_id) values ($1)", ws)
    results, built = [], 0
    try:
        for size in SIZES:
            started = time.perf_counter()
            await conn.execute(_GROW_SESSIONS, ws, p1, p2, built, size)
            await conn.execute(_GROW_STREAM, ws, p1, p2, built, size)
            await conn.execute("update app.stream_counters set last_position = $2 where workspace_id = $1", ws, size)
            if not built:
                await conn.execute(_INCIDENT, ws, p1)
            # Settled tables, as a long-lived database has them: no autovacuum pass during the reads.
            for table in ("app.trace_sessions", "app.stream_messages", "app.session_facets"):
                await conn.execute(f"vacuum analyze {table}")
            build_seconds = time.perf_counter() - started
            built = size
            last_page = size - PAGE
            backfill = "select * from api.stream_backfill($1, $2, null, $3, $4)"
            sessions = "select api.list_sessions($1::jsonb)"
            row = {
                "rows": size,
                "build_s": build_seconds,
                "backfill_key": await _timed(reader, "agentdeck_key", key, backfill, ws, p1, last_page, PAGE),
                "backfill_member": await _timed(reader, "authenticated", user, backfill, ws, None, last_page, PAGE),
                "sessions_key": await _timed(reader, "agentdeck_key", key, sessions, json.dumps({"limit": 50})),
                "sessions_member": await _timed(reader, "authenticated", user, sessions, json.dumps({"limit": 50})),
                "sessions_status": await _timed(reader, "authenticated", user, sessions,
                                                json.dumps({"limit": 50, "status": "error"})),
                "sessions_agent": await _timed(reader, "authenticated", user, sessions,
                                               json.dumps({"limit": 50, "agent": "agent-7"})),
                # One session in 50 has it: app.session_facets (0016) serves the tag filter.
                "sessions_tag": await _timed(reader, "authenticated", user, sessions,
                                             json.dumps({"limit": 50, "tag": "tag-7"})),
                # Three of the oldest sessions show it: app.session_facets (0017) serves the filter.
                "sessions_incident": await _timed(reader, "authenticated", user, sessions,
                                                  json.dumps({"limit": 50, "incident_id": "inc_hist"})),
                "old_predicate": await _timed(reader, "agentdeck_key", key, _OLD_PREDICATE, ws, last_page, PAGE),
            }
            results.append(row)
            print(" | ".join(f"{k} {v:,.2f}" if isinstance(v, float) else f"{k} {v:,}" for k, v in row.items()),
                  flush=True)
    finally:
        await reader.close()
        await conn.close()
    return results


def main() -> None:
    with scratch_database() as (url, tenant):
        results = asyncio.run(run(url, tenant))
    first, last = results[0], results[-1]
    print(f"\nmedian ms of {REPEAT} runs; growth {first['rows']:,} -> {last['rows']:,} rows:")
    for name in ("backfill_key", "backfill_member", "sessions_key", "sessions_member", "sessions_status",
                 "sessions_agent", "sessions_tag", "sessions_incident", "old_predicate"):
        print(f"  {name}: {first[name]:.2f} -> {last[name]:.2f} ms ({last[name] / first[name]:.2f}x)")


if __name__ == "__main__":
    main()
