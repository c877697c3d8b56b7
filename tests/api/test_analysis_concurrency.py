"""Concurrent analyses: more of them than any thread pool has threads, on long sessions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx

from tests.support.aio import run
from tests.support.server import RunningServer
from tests.support.tenants import Tenant

EVENTS_PER_SESSION = 10_000
SESSIONS = 4
ANALYSES_PER_SESSION = 4  # 16 concurrent analyses: well past the default executor's threads


def long_session(index: int) -> list[list[dict[str, object]]]:
    """A 10,000-event session in batches of 1,000: tool calls, mostly succeeding, one failing at the end."""
    events: list[dict[str, object]] = [{"seq": 1, "type": "session.start", "payload": {"tools": ["search"]}}]
    seq = 2
    while seq < EVENTS_PER_SESSION:
        events.append({"seq": seq, "type": "tool.call", "payload": {"tool": "search", "arguments": {"q": seq}}})
        status = "error" if seq + 2 >= EVENTS_PER_SESSION else "ok"
        result: dict[str, object] = {"tool": "search", "status": status}
        if status == "error":
            result["error"] = {"type": "HTTPError", "code": 500 + index, "message": "upstream failed"}
        events.append({"seq": seq + 1, "type": "tool.result", "payload": result})
        seq += 2
    return [events[start:start + 1000] for start in range(0, len(events), 1000)]


def test_concurrent_analyses_beyond_the_thread_pool_all_complete(
    start_server: Callable[..., AbstractContextManager[RunningServer]], tenant: Tenant,
) -> None:
    with start_server() as server:
        async def scenario() -> None:
            async with httpx.AsyncClient(base_url=server.base_url, headers=tenant.key(), timeout=120) as http:
                for index in range(SESSIONS):
                    trace = f"long-{index}"
                    assert (await http.post("/api/traces", json={"id": trace})).status_code == 201
                    for batch in long_session(index):
                        response = await http.post(f"/api/traces/{trace}/events", json={"events": batch})
                        assert response.json()["accepted"] == len(batch), response.text
                analyses = [asyncio.create_task(http.post(f"/api/traces/long-{index}/analyze"))
                            for index in range(SESSIONS) for _ in range(ANALYSES_PER_SESSION)]
                # Meanwhile the server answers other requests, through the database too.
                answered_while_busy = 0
                while not all(task.done() for task in analyses):
                    health = await http.get("/healthz", timeout=10)
                    listing = await http.get("/api/sessions", params={"limit": 1}, timeout=10)
                    assert health.status_code == 200 and listing.status_code == 200
                    answered_while_busy += not all(task.done() for task in analyses)
                assert answered_while_busy > 0
                results = [await task for task in analyses]
                assert [r.status_code for r in results] == [200] * len(results), [r.text[:200] for r in results]
                for index in range(SESSIONS):
                    mine = [r.json() for r in results if r.json()["session_id"] == f"long-{index}"]
                    assert len(mine) == ANALYSES_PER_SESSION
                    assert len({(m["input_digest"], str(m["labels"])) for m in mine}) == 1
                    assert mine[0]["labels"], "the failing call at the end is found"
                # And analysis still works afterwards.
                assert (await http.post("/api/traces/long-0/analyze")).status_code == 200

        run(scenario(), timeout=240)


def test_analyses_past_the_waiting_line_get_429_with_retry_after(
    start_server: Callable[..., AbstractContextManager[RunningServer]], tenant: Tenant,
) -> None:
    with start_server(AGENTDECK_ANALYSIS_THREADS="1", AGENTDECK_ANALYSIS_MAX_PENDING="1") as server:
        async def scenario() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=server.base_url, headers=tenant.key(), timeout=120) as http:
                assert (await http.post("/api/traces", json={"id": "busy"})).status_code == 201
                for batch in long_session(0)[:3]:
                    assert (await http.post("/api/traces/busy/events", json={"events": batch})).status_code == 200
                return list(await asyncio.gather(*(http.post("/api/traces/busy/analyze") for _ in range(6))))

        responses = run(scenario(), timeout=120)
        statuses = sorted(r.status_code for r in responses)
        assert 200 in statuses and 429 in statuses, statuses
        busy = next(r for r in responses if r.status_code == 429)
        assert busy.headers["retry-after"] == "1"
        assert busy.json()["error"]["code"] == "analysis_busy"
