"""Eight clients racing overlapping, retried and reordered batches: ordering and idempotency hold."""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict

import asyncpg
import httpx

from tests.support.server import RunningServer
from tests.support.tenants import Tenant

SESSIONS = ["race-a", "race-b", "race-c"]
EVENTS_PER_SESSION = 150


def planned(session: str, seq: int) -> dict[str, object]:
    """The one true content of each (session, seq): any resend of it is an exact replay."""
    return {"seq": seq, "type": "tool.call", "payload": {"tool": "search", "arguments": {"q": f"{session}-{seq}"}}}


async def client_run(base_url: str, headers: dict[str, str], seed: int) -> list[tuple[str, list[int], dict]]:
    rng = random.Random(seed)
    results = []
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as http:
        for _ in range(25):
            session = rng.choice(SESSIONS)
            start = rng.randrange(0, EVENTS_PER_SESSION - 5)
            seqs = list(range(start, min(EVENTS_PER_SESSION, start + rng.randrange(1, 20))))
            if rng.random() < 0.3:
                rng.shuffle(seqs)
            batch = {"events": [planned(session, s) for s in seqs]}
            for _attempt in range(2 if rng.random() < 0.4 else 1):
                response = await http.post(f"/api/traces/{session}/events", json=batch)
                assert response.status_code == 200, response.text
                results.append((session, seqs, response.json()))
    return results


def test_racing_clients_store_each_key_once_with_gap_free_positions(
    server: RunningServer, tenant: Tenant, database_url: str
) -> None:
    for session in SESSIONS:
        httpx.post(server.base_url + "/api/traces", json={"id": session}, headers=tenant.key())

    async def race() -> list[tuple[str, list[int], dict]]:
        runs = await asyncio.gather(*(client_run(server.base_url, tenant.key(), seed) for seed in range(8)))
        return [result for run in runs for result in run]

    results = asyncio.run(race())

    async def stored() -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
        conn = await asyncpg.connect(database_url)
        try:
            events = await conn.fetch(
                "select trace_id, seq, idempotency_key from app.events where workspace_id = $1", tenant.workspace_id)
            ranges = await conn.fetch(
                "select position, message_count, trace_id, event_seqs from app.stream_messages"
                " where workspace_id = $1 order by position", tenant.workspace_id)
            return events, ranges
        finally:
            await conn.close()

    events, ranges = asyncio.run(stored())
    keys = Counter(r["idempotency_key"] for r in events)
    assert keys and max(keys.values()) == 1, "every idempotency key is stored exactly once"

    accepted_per_session: Counter[str] = Counter()
    stored_seqs = defaultdict(set)
    for row in events:
        stored_seqs[row["trace_id"]].add(row["seq"])
    for session, seqs, body in results:
        accepted_per_session[session] += body["accepted"]
        rejected = {seqs[r["index"]] for r in body["rejected"]}
        assert {r["code"] for r in body["rejected"]} <= {"seq_not_monotonic"}
        assert body["accepted"] + body["duplicates"] + len(body["rejected"]) == len(seqs)
        # A duplicate is only ever reported for an event that is stored.
        assert len(set(seqs) - rejected - stored_seqs[session]) == 0
    assert sum(body["duplicates"] for _, _, body in results) > 0, "retries produced replays"
    for session in SESSIONS:
        assert accepted_per_session[session] == len(stored_seqs[session]), "each stored event was accepted once"

    positions = [r["position"] + i for r in ranges for i in range(r["message_count"])]
    assert positions == list(range(1, len(positions) + 1)), "positions are 1..N with no gap or repeat"
    by_session = defaultdict(list)
    for r in ranges:
        if r["event_seqs"] is not None:
            by_session[r["trace_id"]].extend(r["event_seqs"])
    for session, seqs_in_position_order in by_session.items():
        assert seqs_in_position_order == sorted(seqs_in_position_order), "seqs increase with position"
        assert set(seqs_in_position_order) == stored_seqs[session]
