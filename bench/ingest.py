"""Ingest throughput: the HTTP path vs. the raw insert limit of the same table shape, in one run.

    python -m bench.ingest            (or: make bench)

HTTP: 4 concurrent clients POST batches of 100 realistic events (300-600 bytes of JSON each) to
`agentdeck serve`. Raw: the same rows inserted by 4 asyncpg connections with
`INSERT ... SELECT FROM unnest(...)` batches of 100 into a copy of app.events. Both sides build
their requests before the clock starts. Also the p50/p99 latency of single-event POSTs.
Results go to stdout; record them in docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import time
from typing import Any

import asyncpg
import httpx

from bench.common import BenchTarget, bench_target, percentile
from bench.http1 import Http1Connection

CLIENTS = 4
BATCH = 100
BATCHES_PER_CLIENT = int(os.environ.get("BENCH_BATCHES", "60"))
SINGLE_EVENTS = int(os.environ.get("BENCH_SINGLE", "400"))


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


async def http_ingest(target: BenchTarget) -> float:
    host, port = target.base_url.removeprefix("http://").split(":")
    headers = {"Authorization": f"Bearer {target.key}"}
    bodies = [[json.dumps({"events": batch}).encode() for batch in client_batches(i)] for i in range(CLIENTS)]

    async def client(index: int) -> None:
        trace = f"bench-http-{index}"
        async with Http1Connection(host, int(port), headers) as http:
            status, _ = await http.post_json("/api/traces", json.dumps({"id": trace}).encode())
            assert status == 201
            for body in bodies[index]:
                status, answer = await http.post_json(f"/api/traces/{trace}/events", body)
                assert status == 200 and json.loads(answer)["accepted"] == BATCH, answer

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(CLIENTS)))
    return CLIENTS * BATCHES_PER_CLIENT * BATCH / (time.perf_counter() - started)


async def raw_insert(target: BenchTarget) -> float:
    setup = await asyncpg.connect(target.database_url)
    # The same shape: columns, defaults, checks, primary key and idempotency index (no RLS, no foreign key).
    await setup.execute("create table public.raw_events (like app.events including all)")
    await setup.close()
    rows = []
    for index in range(CLIENTS):
        client_rows = []
        for events in client_batches(index):
            payloads = [json.dumps(e["payload"]) for e in events]
            client_rows.append(([e["seq"] for e in events], [f"raw-{index}:{e['seq']}" for e in events],
                                [e["type"] for e in events], payloads,
                                [hashlib.sha256(p.encode()).digest() for p in payloads]))
        rows.append(client_rows)

    async def writer(index: int) -> None:
        conn = await asyncpg.connect(target.database_url)
        try:
            for seqs, keys, types, payloads, hashes in rows[index]:
                await conn.execute(
                    "insert into public.raw_events (workspace_id, project_id, trace_id, seq, idempotency_key, type,"
                    " payload, content_hash) select $1, $2, $3, u.seq, u.key, u.type, u.payload::jsonb, u.hash"
                    " from unnest($4::bigint[], $5::text[], $6::text[], $7::text[], $8::bytea[])"
                    " as u (seq, key, type, payload, hash)",
                    target.workspace_id, target.project_id, f"raw-{index}", seqs, keys, types, payloads, hashes,
                )
        finally:
            await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(writer(i) for i in range(CLIENTS)))
    return CLIENTS * BATCHES_PER_CLIENT * BATCH / (time.perf_counter() - started)


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


def main() -> None:
    sizes = [len(json.dumps(event)) for batch in client_batches(0) for event in batch]
    with bench_target() as target:
        http_rate = asyncio.run(http_ingest(target))
        raw_rate = asyncio.run(raw_insert(target))
        p50, p99 = single_event_latency(target)
    print(f"event size: {min(sizes)}-{max(sizes)} bytes of JSON (mean {sum(sizes) / len(sizes):.0f})")
    print(f"HTTP ingest, {CLIENTS} clients x batches of {BATCH}: {http_rate:,.0f} events/s")
    print(f"raw unnest insert, {CLIENTS} connections x {BATCH}: {raw_rate:,.0f} events/s")
    print(f"ratio HTTP/raw: {http_rate / raw_rate:.0%}")
    print(f"single-event POST latency: p50 {p50:.2f} ms, p99 {p99:.2f} ms")


if __name__ == "__main__":
    main()
