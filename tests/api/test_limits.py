"""Bad input and overload: each answers a clear 4xx and leaves the database unchanged."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import httpx
import pytest

from tests.support.server import RunningServer
from tests.support.tenants import Tenant


def count_events(database_url: str, trace_id: str) -> int:
    async def fetch() -> int:
        conn = await asyncpg.connect(database_url)
        try:
            return int(await conn.fetchval("select count(*) from app.events where trace_id = $1", trace_id))
        finally:
            await conn.close()

    return asyncio.run(fetch())


def log(seq: int, message: str = "m") -> dict[str, object]:
    return {"seq": seq, "type": "log", "payload": {"level": "info", "message": message}}


@pytest.fixture
def limited(start_server: Callable[..., RunningServer]) -> Iterator[httpx.Client]:
    with start_server(AGENTDECK_MAX_BODY_BYTES="2048", AGENTDECK_MAX_BATCH_EVENTS="3") as running:
        with httpx.Client(base_url=running.base_url, timeout=30) as http:
            yield http


def test_oversized_body_is_413_and_stores_nothing(limited: httpx.Client, tenant: Tenant, database_url: str) -> None:
    limited.post("/api/traces", json={"id": "big-1"}, headers=tenant.key())
    big = {"events": [log(1, "x" * 4000)]}
    response = limited.post("/api/traces/big-1/events", json=big, headers=tenant.key())
    assert (response.status_code, response.json()["error"]["code"]) == (413, "payload_too_large")
    assert count_events(database_url, "big-1") == 0


def test_body_over_the_limit_without_content_length_is_413(limited: httpx.Client, tenant: Tenant) -> None:
    limited.post("/api/traces", json={"id": "chunked-1"}, headers=tenant.key())

    def chunks() -> Iterator[bytes]:
        yield b'{"events": ['
        for seq in range(200):
            yield (b"," if seq else b"") + b'{"seq": %d, "type": "log", "payload": {"level": "i", "message": "m"}}' % seq
        yield b"]}"

    headers = {**tenant.key(), "Content-Type": "application/json"}
    response = limited.post("/api/traces/chunked-1/events", content=chunks(), headers=headers)
    assert response.status_code == 413


def test_too_many_events_is_413(limited: httpx.Client, tenant: Tenant, database_url: str) -> None:
    limited.post("/api/traces", json={"id": "many-1"}, headers=tenant.key())
    response = limited.post("/api/traces/many-1/events", json={"events": [log(i) for i in range(4)]},
                            headers=tenant.key())
    assert (response.status_code, response.json()["error"]["code"]) == (413, "too_many_events")
    assert count_events(database_url, "many-1") == 0


def test_wrong_content_type_is_415(client: httpx.Client, tenant: Tenant, database_url: str) -> None:
    client.post("/api/traces", json={"id": "ct-1"}, headers=tenant.key())
    response = client.post("/api/traces/ct-1/events", content=b'{"seq": 1, "type": "log"}',
                           headers={**tenant.key(), "Content-Type": "text/plain"})
    assert response.status_code == 415
    assert count_events(database_url, "ct-1") == 0


@pytest.mark.parametrize("body", [b"{not json", b'{"seq": NaN, "type": "log"}', b'[1, 2]',
                                  b'{"seq": 1, "type": "log", "payload": {"m": "a\\u0000b"}}'])
def test_malformed_body_is_400(client: httpx.Client, tenant: Tenant, database_url: str, body: bytes) -> None:
    client.post("/api/traces", json={"id": "bad-1"}, headers=tenant.key())
    response = client.post("/api/traces/bad-1/events", content=body,
                           headers={**tenant.key(), "Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert count_events(database_url, "bad-1") == 0


def test_schema_errors_are_422_with_the_failing_path(client: httpx.Client, tenant: Tenant) -> None:
    response = client.post("/api/traces", json={"id": "has spaces"}, headers=tenant.key())
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == ["id"]
    nested = client.post("/api/traces", json={"agent": {"version": "1"}}, headers=tenant.key())
    assert nested.json()["error"]["details"][0]["loc"] == ["agent", "name"]
    listed = client.get("/api/sessions", params={"session_id": "has spaces"}, headers=tenant.key()).json()
    assert listed["sessions"] == []


def test_burst_over_the_rate_limit_is_429_with_retry_after(
    start_server: Callable[..., RunningServer], tenant: Tenant, database_url: str
) -> None:
    with start_server(AGENTDECK_RATE_PER_SECOND="0.5", AGENTDECK_RATE_BURST="2") as running:
        with httpx.Client(base_url=running.base_url) as http:
            http.post("/api/traces", json={"id": "rate-1"}, headers=tenant.key())
            assert http.post("/api/traces/rate-1/events", json=log(1), headers=tenant.key()).status_code == 201
            limited = http.post("/api/traces/rate-1/events", json=log(2), headers=tenant.key())
            assert (limited.status_code, limited.json()["error"]["code"]) == (429, "rate_limited")
            assert int(limited.headers["retry-after"]) >= 1
            other_key = http.get("/api/sessions", headers=tenant.key(1))
            assert other_key.status_code == 200, "buckets are per credential"
    assert count_events(database_url, "rate-1") == 1


def test_requests_beyond_the_pool_queue_bound_are_429_not_queued(
    start_server: Callable[..., RunningServer], tenant: Tenant, database_url: str
) -> None:
    """With one connection and one waiter allowed, a third concurrent request is turned away at once."""
    with start_server(AGENTDECK_POOL_MAX="1", AGENTDECK_POOL_MIN="1",
                      AGENTDECK_BACKPRESSURE_WAITERS="1") as running:
        with httpx.Client(base_url=running.base_url, timeout=60) as http:
            http.post("/api/traces", json={"id": "bp-1"}, headers=tenant.key())

        async def hold_session_lock(locked: threading.Event, release: threading.Event) -> None:
            conn = await asyncpg.connect(database_url)
            try:
                async with conn.transaction():
                    await conn.execute("select 1 from app.trace_sessions where trace_id = 'bp-1' for update")
                    locked.set()
                    await asyncio.get_running_loop().run_in_executor(None, release.wait)
            finally:
                await conn.close()

        async def wait_for_lock_waiter() -> None:
            conn = await asyncpg.connect(database_url)
            try:
                while not await conn.fetchval(  # noqa: ASYNC110 - polling another process's state
                    "select exists (select from pg_stat_activity where usename = 'agentdeck_api'"
                    " and wait_event_type = 'Lock')"
                ):
                    await asyncio.sleep(0.02)
            finally:
                await conn.close()

        locked, release = threading.Event(), threading.Event()
        holder = threading.Thread(target=asyncio.run, args=(hold_session_lock(locked, release),))
        holder.start()
        locked.wait(30)
        with ThreadPoolExecutor(8) as pool, httpx.Client(base_url=running.base_url, timeout=60) as http:
            blocked = pool.submit(http.post, "/api/traces/bp-1/events", json=log(1), headers=tenant.key())
            asyncio.run(wait_for_lock_waiter())
            others = [pool.submit(http.get, "/api/sessions", headers=tenant.key()) for _ in range(5)]
            # One may wait for the busy connection; the other four are answered while the lock is still held.
            while sum(f.done() for f in others) < 4:
                threading.Event().wait(0.02)
            statuses = sorted(f.result().status_code for f in others if f.done())
            release.set()
            holder.join(30)
            assert blocked.result().status_code == 201
            assert statuses.count(429) == 4
            assert all(f.result().status_code in (200, 429) for f in others)
            backpressure = next(f.result() for f in others if f.result().status_code == 429)
            assert backpressure.json()["error"]["code"] == "backpressure"
            assert backpressure.headers["retry-after"] == "1"
    assert count_events(database_url, "bp-1") == 1


@pytest.mark.parametrize("body", [b'{"seq": 1, "type": "log", "payload": {"m": "\\ud800"}}',
                                  b'{"seq": 1, "type": "log", "payload": {"level": "i", "message": "m", "n": 1e400}}'])
def test_json_postgres_cannot_store_is_400_not_500(client: httpx.Client, tenant: Tenant, database_url: str,
                                                   body: bytes) -> None:
    client.post("/api/traces", json={"id": "unstorable"}, headers=tenant.key())
    response = client.post("/api/traces/unstorable/events", content=body,
                           headers={**tenant.key(), "Content-Type": "application/json"})
    assert (response.status_code, response.json()["error"]["code"]) == (400, "malformed_json")
    assert count_events(database_url, "unstorable") == 0


@pytest.mark.parametrize("url", ["/api/sessions?q=%00", "/api/traces/x/events?project_id=%00",
                                 "/api/traces/x/events?types=a%00"])
def test_nul_in_a_query_parameter_is_400(client: httpx.Client, tenant: Tenant, url: str) -> None:
    response = client.get(url, headers=tenant.key())
    assert (response.status_code, response.json()["error"]["code"]) == (400, "bad_query")


@pytest.mark.parametrize("body", [b"[]", b'"x"', b"null"])
def test_a_body_that_is_not_an_object_is_400(client: httpx.Client, tenant: Tenant, body: bytes) -> None:
    response = client.post("/api/traces", content=body, headers={**tenant.key(), "Content-Type": "application/json"})
    assert (response.status_code, response.json()["error"]["code"]) == (400, "bad_shape")


def test_odd_items_in_a_batch_are_rejected_one_by_one(client: httpx.Client, tenant: Tenant) -> None:
    client.post("/api/traces", json={"id": "odd-items"}, headers=tenant.key())
    batch = {"events": [log(1), "not an event", {"seq": 2, "type": "log", "payload": {"level": "i", "message": "m"},
                                                  "parent_seq": 10**20}, log(3)]}
    body = client.post("/api/traces/odd-items/events", json=batch, headers=tenant.key()).json()
    assert body["accepted"] == 2
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [(1, "invalid"), (2, "invalid")]
    huge_cursor = client.get("/api/traces/odd-items/events", params={"after_seq": 10**20}, headers=tenant.key())
    assert huge_cursor.status_code == 400
