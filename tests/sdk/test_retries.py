"""Retries as the SDK meets them on the wire: 429/503 with Retry-After, 5xx, then success."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agentdeck import RetryPolicy, Tracer
from tests.support.server import RunningServer


class Flaky:
    """Answers each events POST first with 429 (Retry-After: 1), then 503 (Retry-After: 0), then 500,
    then accepts it: the server's wire format, with the failures an overloaded deployment produces."""

    def __init__(self) -> None:
        self.attempts: list[tuple[float, int]] = []
        self.failures = [(429, "1"), (503, "0"), (500, None)]
        self.created: list[dict[str, Any]] = []

    async def create(self, request: Request) -> Response:
        body = await request.json()
        self.created.append(body)
        return JSONResponse({"id": body["id"]}, status_code=201)

    async def events(self, request: Request) -> Response:
        batch = (await request.json())["events"]
        if self.failures:
            status, retry_after = self.failures.pop(0)
            self.attempts.append((time.monotonic(), status))
            headers = {"Retry-After": retry_after} if retry_after is not None else {}
            return JSONResponse({"error": {"status": status, "code": "busy"}}, status_code=status, headers=headers)
        self.attempts.append((time.monotonic(), 200))
        return JSONResponse({"accepted": len(batch), "duplicates": 0, "rejected": []})


@pytest.fixture
def flaky() -> Iterator[tuple[Flaky, RunningServer]]:
    state = Flaky()
    app = Starlette(routes=[Route("/api/traces", state.create, methods=["POST"]),
                            Route("/api/traces/{trace_id}/events", state.events, methods=["POST"])])
    with RunningServer(app) as running:
        yield state, running


def test_retry_after_is_honoured_and_5xx_retried_until_accepted(flaky: tuple[Flaky, Any]) -> None:
    state, running = flaky
    with Tracer(running.base_url, "adk_test", retry=RetryPolicy(base_seconds=0.01, max_seconds=0.05)) as tracer:
        session = tracer.session(id="run-1", task_key="checkout", regression_run_id="rr_42")
        session.log("hello")
        counts = tracer.flush(timeout=30)
        stats = tracer.stats()
    # A regression run's after-session: its metadata names the task and the run (matched server-side).
    assert state.created == [{"id": "run-1", "metadata": {"task_key": "checkout", "regression_run_id": "rr_42"}}]
    assert [status for _, status in state.attempts] == [429, 503, 500, 200]
    assert state.attempts[1][0] - state.attempts[0][0] >= 0.95  # waited the 429's Retry-After: 1
    assert (counts.accepted, counts.rejected, stats.retries) == (2, 0, 3)


def test_backoff_grows_with_jitter_and_retry_after_is_capped() -> None:
    policy = RetryPolicy(base_seconds=0.1, max_seconds=1.0, max_retry_after_seconds=30)
    assert all(0 <= policy.delay(attempt, None) <= min(1.0, 0.1 * 2**attempt) for attempt in range(8)
               for _ in range(20))
    assert policy.delay(0, 2.5) == 2.5
    assert policy.delay(0, 3600) == 30
