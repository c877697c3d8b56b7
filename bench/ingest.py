"""Ingest throughput: the HTTP path vs. the raw insert limit of the same table shape, in one run.

    python -m bench.ingest            (or: make bench)

HTTP: 4 concurrent clients POST batches of 100 realistic events (300-600 bytes of JSON each) to
`agentdeck serve`. Raw: the same rows inserted by 4 asyncpg connections with
`INSERT ... SELECT FROM unnest(...)` batches of 100 into a copy of app.events. Both sides build
their requests before the clock starts. The two phases alternate for BENCH_ROUNDS rounds (3),
each round on new sessions, so a machine whose load drifts weighs on both alike; the ratio
reported is the median of the rounds' ratios. Between them, for the breakdown, the SQL path
alone: the same batches turned into the handler's columns beforehand, then `api.append_events`
through the API's own `Database.call` from 4 tasks (no HTTP). Also the p50/p99 latency of
single-event POSTs. Results go to stdout; record them in docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import statistics
import time
from typing import Any

import asyncpg
import httpx

from api.auth import Identity
from api.db import Database, api_role_url
from api.event_fast_path import common_event
from api.event_types import sql_columns
from bench.common import BenchTarget, bench_target, percentile
from bench.http1 import Http1Connection

CLIENTS = 4
BATCH = 100
BATCHES_PER_CLIENT = int(os.environ.get("BENCH_BATCHES", "60"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SINGLE_EVENTS = int(os.environ.get("BENCH_SINGLE", "400"))
WARMUP_BATCHES = 5  # per client, before the clock, on sessions of their own


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used (0 once it is gone)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


async def backend_cpu(database_url: str) -> dict[int, float]:
    """CPU used so far by every backend connected to the bench database."""
    conn = await asyncpg.connect(database_url)
    try:
        pids = [r["pid"] for r in await conn.fetch(
            "select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()")]
    finally:
        await conn.close()
    return {pid: cpu_seconds(pid) for pid in pids}


class CpuMeter:
    """CPU per batch of the server process, the database backends and this client, over one phase."""

    def __init__(self, target: BenchTarget, server_pid: int | None) -> None:
        self._target, self._server_pid = target, server_pid

    async def __aenter__(self) -> CpuMeter:
        self._backends = await backend_cpu(self._target.database_url)
        self._server = cpu_seconds(self._server_pid) if self._server_pid else 0.0
        self._client = time.process_time()
        return self

    async def __aexit__(self, *_: object) -> None:
        self.client = time.process_time() - self._client
        self.server = (cpu_seconds(self._server_pid) - self._server) if self._server_pid else 0.0
        after = await backend_cpu(self._target.database_url)
        self.database = sum(cpu - self._backends.get(pid, 0.0) for pid, cpu in after.items())

    def per_batch_ms(self, batches: int) -> str:
        total = self.server + self.database + self.client
        return (f"server {self.server / batches * 1000:.2f} + database {self.database / batches * 1000:.2f}"
                f" + client {self.client / batches * 1000:.2f} = {total / batches * 1000:.2f} ms CPU per batch")


def realistic_event(rng: random.Random, seq: int) -> dict[str, Any]:
    """One of the four shapes an agent run is made of, 300-600 bytes of JSON."""
    kind = seq % 4
    words = " ".join(rng.choice(["search", "the", "repo", "for", "failing", "tests", "and", "fix", "them"])
                     for _ in range(rng.randrange(45, 78)))
    if kind == 0:
        payload: dict[str, Any] = {"model": "gpt-4.1-mini", "messages": [
            {"role": "system", "content": "You are a coding agent."}, {"role": "user", "content": words}]}
        return {"seq": seq, "type": "llm.request", "payload": payload}
    if kind == 1:
        payload = {"model": "gpt-4.1-mini", "usage": {"input_tokens": rng.randrange(100, 4000),
                   "output_tokens": rng.randrange(10, 800)}, "content": words, "finish_reason": "tool_calls"}
        return {"seq": seq, "type": "llm.response", "payload": payload}
    if kind == 2:
        payload = {"tool": "run_tests", "arguments": {"path": f"tests/test_{rng.randrange(1000)}.py",
                   "flags": ["-q", "-x"], "note": words[:160]}, "call_id": f"call_{seq}"}
        return {"seq": seq, "type": "tool.call", "payload": payload}
    payload = {"tool": "run_tests", "status": "ok", "output": words, "call_id": f"call_{seq - 1}",
               "duration_ms": rng.randrange(5, 5000)}
    return {"seq": seq, "type": "tool.result", "payload": payload}


def client_batches(index: int) -> list[list[dict[str, Any]]]:
    """The batches one client sends, made before the clock starts (generation is not the server's work)."""
    rng = random.Random(index)
    return [[realistic_event(rng, batch * BATCH + i) for i in range(BATCH)] for batch in range(BATCHES_PER_CLIENT)]


async def http_ingest(target: BenchTarget, round_number: int = 0) -> tuple[float, CpuMeter]:
    host, port = target.base_url.removeprefix("http://").split(":")
    headers = {"Authorization": f"Bearer {target.key}"}
    bodies = [[json.dumps({"events": batch}).encode() for batch in client_batches(i)] for i in range(CLIENTS)]

    async def client(http: Http1Connection, trace: str, batches: list[bytes]) -> None:
        status, _ = await http.post_json("/api/traces", json.dumps({"id": trace}).encode())
        assert status == 201
        for body in batches:
            status, answer = await http.post_json(f"/api/traces/{trace}/events", body)
            assert status == 200 and json.loads(answer)["accepted"] == BATCH, answer

    async with contextlib.AsyncExitStack() as stack:
        connections = [await stack.enter_async_context(Http1Connection(host, int(port), headers))
                       for _ in range(CLIENTS)]
        # Warm up at the same concurrency: the pool grows to its working size, plans are cached.
        await asyncio.gather(*(client(http, f"bench-warm-{round_number}-{i}", bodies[i][:WARMUP_BATCHES])
                               for i, http in enumerate(connections)))
        async with CpuMeter(target, target.server_pid) as meter:
            started = time.perf_counter()
            await asyncio.gather(*(client(http, f"bench-http-{round_number}-{i}", bodies[i])
                                   for i, http in enumerate(connections)))
            elapsed = time.perf_counter() - started
    return CLIENTS * BATCHES_PER_CLIENT * BATCH / elapsed, meter


async def raw_insert(target: BenchTarget, round_number: int = 0) -> tuple[float, CpuMeter]:
    rows = []
    for index in range(CLIENTS):
        client_rows = []
        for events in client_batches(index):
            payloads = [json.dumps(e["payload"]) for e in events]
            client_rows.append(([e["seq"] for e in events], [f"raw-{round_number}-{index}:{e['seq']}" for e in events],
                                [e["type"] for e in events], payloads,
                                [hashlib.sha256(p.encode()).digest() for p in payloads]))
        rows.append(client_rows)

    conns = [await asyncpg.connect(target.database_url) for _ in range(CLIENTS)]

    async def writer(index: int, trace: str, batches: list[Any]) -> None:
        conn = conns[index]
        for seqs, keys, types, payloads, hashes in batches:
            await conn.execute(
                "insert into public.raw_events (workspace_id, project_id, trace_id, seq, idempotency_key, type,"
                " payload, content_hash) select $1, $2, $3, u.seq, u.key, u.type, u.payload::jsonb, u.hash"
                " from unnest($4::bigint[], $5::text[], $6::text[], $7::text[], $8::bytea[])"
                " as u (seq, key, type, payload, hash)",
                target.workspace_id, target.project_id, trace, seqs, keys, types, payloads, hashes,
            )

    await asyncio.gather(*(writer(i, f"raw-warm-{round_number}-{i}", rows[i][:WARMUP_BATCHES])
                           for i in range(CLIENTS)))
    async with CpuMeter(target, None) as meter:
        started = time.perf_counter()
        await asyncio.gather(*(writer(i, f"raw-{round_number}-{i}", rows[i]) for i in range(CLIENTS)))
        elapsed = time.perf_counter() - started
    for conn in conns:
        await conn.close()
    return CLIENTS * BATCHES_PER_CLIENT * BATCH / elapsed, meter


def handler_columns(batch: list[dict[str, Any]]) -> list[list[Any] | None]:
    """The columns the handler sends for a batch (every bench event has one of the common shapes)."""
    events = [common_event(event, index) for index, event in enumerate(batch)]
    return sql_columns([event for event in events if event is not None])


async def sql_path(target: BenchTarget, round_number: int = 0) -> tuple[float, CpuMeter]:
    """The handler's database call alone: columns made as the handler makes them, before the clock."""
    identity = Identity("key", "agentdeck_key", {"role": "agentdeck_key",
                                                 "key_hash": hashlib.sha256(target.key.encode()).hexdigest()})
    columns = [[handler_columns(batch) for batch in client_batches(i)] for i in range(CLIENTS)]
    db = await Database.connect(api_role_url(target.database_url), min_size=CLIENTS, max_size=CLIENTS,
                                statement_timeout_ms=15000, max_waiters=CLIENTS)
    call = "select api.append_events($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"

    async def client(trace: str, batches: list[list[Any]]) -> None:
        await db.call(identity, "select api.create_trace($1::jsonb)", json.dumps({"id": trace}), readonly=False)
        for batch_columns in batches:
            answer = json.loads(await db.call(identity, call, trace, None, *batch_columns, readonly=False))
            assert answer["accepted"] == BATCH, answer

    try:
        await asyncio.gather(*(client(f"sql-warm-{round_number}-{i}", columns[i][:WARMUP_BATCHES])
                               for i in range(CLIENTS)))
        async with CpuMeter(target, None) as meter:
            started = time.perf_counter()
            await asyncio.gather(*(client(f"sql-{round_number}-{i}", columns[i]) for i in range(CLIENTS)))
            elapsed = time.perf_counter() - started
    finally:
        await db.close()
    return CLIENTS * BATCHES_PER_CLIENT * BATCH / elapsed, meter


def single_event_latency(target: BenchTarget) -> tuple[float, float]:
    rng = random.Random(99)
    headers = {"Authorization": f"Bearer {target.key}"}
    timings = []
    with httpx.Client(base_url=target.base_url, headers=headers) as http:
        http.post("/api/traces", json={"id": "bench-single"})
        for seq in range(SINGLE_EVENTS):
            started = time.perf_counter()
            response = http.post("/api/traces/bench-single/events", json=realistic_event(rng, seq))
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 201, response.text
    return percentile(timings, 0.5), percentile(timings, 0.99)


async def settle_tables(target: BenchTarget) -> None:
    """The raw table, and no autovacuum on the written tables: a background ANALYZE would land in one
    phase (the longer HTTP one), not both."""
    conn = await asyncpg.connect(target.database_url)
    try:
        # The same shape: columns, defaults, checks, primary key and idempotency index (no RLS, no foreign key).
        await conn.execute("create table public.raw_events (like app.events including all)")
        for table in ("app.events", "app.stream_messages", "app.trace_sessions", "public.raw_events"):
            await conn.execute(f"alter table {table} set (autovacuum_enabled = off)")
    finally:
        await conn.close()


def main() -> None:
    sizes = [len(json.dumps(event)) for batch in client_batches(0) for event in batch]
    batches = CLIENTS * BATCHES_PER_CLIENT
    print(f"event size: {min(sizes)}-{max(sizes)} bytes of JSON (mean {sum(sizes) / len(sizes):.0f})")
    ratios = []
    with bench_target() as target:
        asyncio.run(settle_tables(target))
        for round_number in range(ROUNDS):
            http_rate, http_cpu = asyncio.run(http_ingest(target, round_number))
            sql_rate, sql_cpu = asyncio.run(sql_path(target, round_number))
            raw_rate, raw_cpu = asyncio.run(raw_insert(target, round_number))
            ratios.append(http_rate / raw_rate)
            print(f"round {round_number + 1}: HTTP ingest, {CLIENTS} clients x batches of {BATCH}:"
                  f" {http_rate:,.0f} events/s; raw unnest insert, {CLIENTS} connections x {BATCH}:"
                  f" {raw_rate:,.0f} events/s; ratio {ratios[-1]:.0%}")
            print(f"  SQL path alone (api.append_events through Database.call, no HTTP): {sql_rate:,.0f} events/s,"
                  f" {sql_rate / raw_rate:.0%} of raw")
            # CPU is what the two paths compete for on a busy machine: its ratio is the steadier figure.
            print(f"  HTTP CPU: {http_cpu.per_batch_ms(batches)}")
            print(f"  SQL path CPU: {sql_cpu.per_batch_ms(batches)}")
            print(f"  raw CPU: {raw_cpu.per_batch_ms(batches)}")
        p50, p99 = single_event_latency(target)
    print(f"ratio HTTP/raw (median of {ROUNDS} rounds): {statistics.median(ratios):.0%}")
    print(f"single-event POST latency: p50 {p50:.2f} ms, p99 {p99:.2f} ms")


if __name__ == "__main__":
    main()
