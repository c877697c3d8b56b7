"""Unverified credentials are throttled per client address before the database; verified ones per identity."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx

from tests.support.aio import run
from tests.support.server import RunningServer
from tests.support.tenants import Tenant

BURST = 20


def random_key() -> dict[str, str]:
    return {"Authorization": f"Bearer adk_{secrets.token_urlsafe(32)}"}


async def flood(http: httpx.AsyncClient, count: int, headers: Callable[[], dict[str, str]]) -> list[httpx.Response]:
    """`count` requests, 50 at a time."""
    gate = asyncio.Semaphore(50)

    async def one() -> httpx.Response:
        async with gate:
            return await http.get("/api/sessions", headers=headers())

    return list(await asyncio.gather(*(one() for _ in range(count))))


def test_random_invalid_keys_get_429_after_the_burst_while_valid_keys_keep_their_own_limits(
    start_server: Callable[..., AbstractContextManager[RunningServer]], tenant: Tenant,
) -> None:
    limits = {"AGENTDECK_UNVERIFIED_BURST": str(BURST), "AGENTDECK_UNVERIFIED_RATE_PER_SECOND": "1",
              "AGENTDECK_RATE_BURST": "40", "AGENTDECK_RATE_PER_SECOND": "0.01"}
    with start_server(**limits) as server:
        async def scenario() -> None:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
                # Both keys are verified once, by the database, before the flood.
                for project in (0, 1):
                    assert (await http.get("/api/sessions", headers=tenant.key(project))).status_code == 200
                started = asyncio.get_running_loop().time()
                junk, valid = await asyncio.gather(
                    flood(http, 1000, random_key), flood(http, 20, lambda: tenant.key(0)))
                elapsed = asyncio.get_running_loop().time() - started
                print("flood seconds", elapsed)
                statuses = Counter(r.status_code for r in junk)
                assert set(statuses) == {401, 429}, statuses
                # Only the 401s reached the database: the burst left after the two keys, plus the refill.
                assert statuses[401] <= BURST - 2 + elapsed * 1 + 1, (statuses, elapsed)
                refused = next(r for r in junk if r.status_code == 429)
                assert refused.json()["error"]["code"] == "unverified_rate_limited"
                assert int(refused.headers["retry-after"]) >= 1
                assert [r.status_code for r in valid] == [200] * 20
                # Key 0 runs out of its own bucket; key 1 is unaffected.
                mine = await flood(http, 30, lambda: tenant.key(0))
                limited = [r for r in mine if r.status_code == 429]
                assert limited and limited[0].json()["error"]["code"] == "rate_limited"
                assert (await http.get("/api/sessions", headers=tenant.key(1))).status_code == 200

        run(scenario(), timeout=120)


def test_forged_tokens_and_missing_headers_share_their_address_bucket(
    start_server: Callable[..., AbstractContextManager[RunningServer]], tenant: Tenant,
) -> None:
    with start_server(AGENTDECK_UNVERIFIED_BURST="5", AGENTDECK_UNVERIFIED_RATE_PER_SECOND="0.01") as server:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            attempts = [{"Authorization": "Bearer not-a-jwt"}, {}, random_key(), {"Authorization": "Basic x"},
                        {"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."}]
            assert [http.get("/api/sessions", headers=h).status_code for h in attempts] == [401] * 5
            assert http.get("/api/sessions", headers=random_key()).status_code == 429
            # A console JWT never seen before is unverified too: it waits for the address's refill.
            assert http.get("/api/sessions", headers=tenant.user("member")).status_code == 429


def test_forwarded_for_counts_only_behind_a_trusted_proxy(
    start_server: Callable[..., AbstractContextManager[RunningServer]],
) -> None:
    with start_server(AGENTDECK_UNVERIFIED_BURST="3", AGENTDECK_UNVERIFIED_RATE_PER_SECOND="0.01",
                      AGENTDECK_TRUSTED_PROXIES="127.0.0.1/32") as server:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            one = {"X-Forwarded-For": "198.51.100.9, 203.0.113.7", **random_key()}
            assert [http.get("/api/sessions", headers=one).status_code for _ in range(4)] == [401, 401, 401, 429]
            # Another client behind the same proxy has its own bucket; the left-most hop is not believed.
            other = {"X-Forwarded-For": "203.0.113.7, 203.0.113.8", **random_key()}
            assert http.get("/api/sessions", headers=other).status_code == 401

    with start_server(AGENTDECK_UNVERIFIED_BURST="3", AGENTDECK_UNVERIFIED_RATE_PER_SECOND="0.01") as server:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            # Without a trusted proxy the header is the client's own word: varying it buys nothing.
            statuses = [http.get("/api/sessions", headers={"X-Forwarded-For": f"203.0.113.{n}", **random_key()})
                        .status_code for n in range(4)]
            assert statuses == [401, 401, 401, 429]
