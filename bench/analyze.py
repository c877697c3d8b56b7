"""Analysis time by session size: 100, 10,000 and 100,000 events, through POST …/analyze.

    python -m bench.analyze

Sessions are written straight into app.events (the ingest path is measured by bench.ingest):
a realistic mix of LLM calls, tool calls and results with occasional recovered errors. The server
streams them to the detectors in pages; the peak RSS of the server process shows the memory bound.
Besides wall time, the API process's own CPU time (user + system, from /proc) is reported: on a
shared machine it moves far less with other load than wall time does.
"""

from __future__ import annotations

import asyncio
import os
import time

import asyncpg
import httpx

from bench.common import BenchTarget, bench_target

SIZES = (100, 10_000, 100_000)

# Four event shapes in rotation; every 50th tool result fails and is retried successfully.
_EVENTS = """
insert into app.events (workspace_id, project_id, trace_id, seq, idempotency_key, type, payload, content_hash)
select $1, $2, $3, g, $3 || ':' || g,
    (array['llm.request', 'llm.response', 'tool.call', 'tool.result'])[g % 4 + 1],
    case g % 4
        when 0 then jsonb_build_object('model', 'gpt-4.1', 'messages', jsonb_build_array(
            jsonb_build_object('role', 'user', 'content', 'step ' || g)))
        when 1 then jsonb_build_object('model', 'gpt-4.1', 'usage', jsonb_build_object('input_tokens', g % 997),
            'content', 'calling a tool for step ' || g)
        when 2 then jsonb_build_object('tool', 'search', 'arguments', jsonb_build_object('q', 'item ' || g))
        else case when g % 200 = 3
            then jsonb_build_object('tool', 'search', 'status', 'error',
                'error', jsonb_build_object('type', 'Timeout', 'message', 'timed out after 30s'))
            else jsonb_build_object('tool', 'search', 'status', 'ok', 'output', 'result ' || g) end
    end,
    sha256(g::text::bytea)
from generate_series(0, $4 - 1) as g
"""

# Stream positions as ingestion would have logged them: one range row per batch of 1,000.
_POSITIONS = """
with batches as (
    select b, array(select generate_series(b * 1000, least($4, (b + 1) * 1000) - 1)) as seqs
    from generate_series(0, ($4 - 1) / 1000) as b
), head as (
    insert into app.stream_counters as c (workspace_id, last_position) values ($1, $4)
    on conflict (workspace_id) do update set last_position = c.last_position + $4
    returning last_position - $4 as base
)
insert into app.stream_messages (workspace_id, position, message_count, kind, project_id, trace_id, event_seqs)
select $1, head.base + 1 + b * 1000, cardinality(seqs), 'trace.event', $2, $3, seqs
from batches, head
"""


async def write_session(target: BenchTarget, trace_id: str, size: int) -> None:
    conn = await asyncpg.connect(target.database_url)
    try:
        await conn.execute(
            "insert into app.trace_sessions (workspace_id, project_id, trace_id, create_hash, last_seq, event_count)"
            " values ($1, $2, $3, '\\x00', $4 - 1, $4)", target.workspace_id, target.project_id, trace_id, size)
        await conn.execute(_EVENTS, target.workspace_id, target.project_id, trace_id, size)
        await conn.execute(_POSITIONS, target.workspace_id, target.project_id, trace_id, size)
        await conn.execute("analyze app.events")
    finally:
        await conn.close()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (fields 14 and 15 of /proc/<pid>/stat)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    with bench_target(AGENTDECK_WORKER="0", AGENTDECK_STATEMENT_TIMEOUT_MS="120000") as target:
        rows = []
        with httpx.Client(base_url=target.base_url, timeout=600,
                          headers={"Authorization": f"Bearer {target.key}"}) as http:
            for size in SIZES:
                trace_id = f"bench-analyze-{size}"
                asyncio.run(write_session(target, trace_id, size))
                rss_before, _ = target.server_memory_kib()
                cpu_before = process_cpu_seconds(target.server_pid)
                started = time.perf_counter()
                response = http.post(f"/api/traces/{trace_id}/analyze")
                elapsed = time.perf_counter() - started
                cpu = process_cpu_seconds(target.server_pid) - cpu_before
                assert response.status_code == 200, response.text
                _, peak = target.server_memory_kib()
                labels = [label["label"] for label in response.json()["labels"]]
                rows.append((size, elapsed, cpu, rss_before, peak, labels))
    print(f"{'events':>8} {'seconds':>8} {'µs/event':>9} {'CPU µs/event':>13} {'RSS before':>11} {'peak RSS':>9}"
          "  labels")
    for size, elapsed, cpu, before, peak, labels in rows:
        print(f"{size:>8,} {elapsed:>8.3f} {elapsed / size * 1e6:>9.1f} {cpu / size * 1e6:>13.1f}"
              f" {before // 1024:>8} MiB {peak // 1024:>5} MiB  {','.join(sorted(set(labels))) or '-'}")


if __name__ == "__main__":
    main()
