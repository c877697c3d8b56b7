"""The entry point: `Tracer(base_url, api_key)` (or AGENTDECK_URL / AGENTDECK_API_KEY) and its sessions."""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
import uuid
from collections.abc import Callable
from typing import Any

from agentdeck.delivery import Counts, Delivery, Stats
from agentdeck.session import Session
from agentdeck.transport import RetryPolicy, Transport

DEFAULT_URL = "http://127.0.0.1:4318"


class Tracer:
    """Sessions, events and artifacts for one agentdeck project, delivered in the background.

    - `max_buffer`: events held (queued or being retried) before new ones are dropped and counted.
    - `flush_interval`: how long a batch waits for company (seconds).
    - `close_timeout`: how long `close()` (and interpreter exit) waits for delivery.
    """

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *,
                 max_buffer: int | None = None, flush_interval: float | None = None,
                 request_timeout: float = 10.0, close_timeout: float | None = None,
                 retry: RetryPolicy | None = None, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.base_url = base_url or env.get("AGENTDECK_URL") or DEFAULT_URL
        key = api_key or env.get("AGENTDECK_API_KEY")
        if not key:
            raise ValueError("an API key is required: pass api_key or set AGENTDECK_API_KEY")
        self.close_timeout = close_timeout if close_timeout is not None else float(
            env.get("AGENTDECK_CLOSE_TIMEOUT") or 10)
        policy = retry or RetryPolicy()

        def transport(stop: threading.Event, on_retry: Callable[[str], None]) -> Transport:
            return Transport(self.base_url, key, timeout=request_timeout, policy=policy, stop=stop,
                             on_retry=on_retry)

        self._delivery = Delivery(
            transport,
            max_buffer=max_buffer or int(env.get("AGENTDECK_MAX_BUFFER") or 10_000),
            flush_interval=flush_interval if flush_interval is not None else float(
                env.get("AGENTDECK_FLUSH_INTERVAL") or 0.2),
        )
        self._closed = False
        atexit.register(self.close)

    def session(self, id: str | None = None, *, name: str | None = None, agent: str | dict[str, Any] | None = None,
                environment: str | None = None, tags: list[str] | None = None,
                metadata: dict[str, Any] | None = None, task_key: str | None = None,
                regression_run_id: str | None = None, tools: list[Any] | None = None) -> Session:
        """A new session (created in the background with a client-chosen id, so a retried create is
        idempotent). Use it as a context manager (`with` or `async with`) to end it automatically."""
        trace_id = id or f"trace_{uuid.uuid4().hex}"
        meta = dict(metadata or {})
        if task_key is not None:
            meta["task_key"] = task_key
        if regression_run_id is not None:
            meta["regression_run_id"] = regression_run_id
        agent_object = {"name": agent} if isinstance(agent, str) else agent
        create: dict[str, Any] = {"id": trace_id}
        for field, value in (("name", name), ("agent", agent_object), ("environment", environment),
                             ("tags", tags), ("metadata", meta or None)):
            if value is not None:
                create[field] = value
        start: dict[str, Any] = {}
        if agent_object is not None:
            start["agent"] = agent_object
        if tools is not None:
            start["tools"] = tools
        return Session(self._delivery, trace_id, create, start)

    def flush(self, timeout: float | None = None) -> Counts:
        """Wait until every event emitted before the call is settled (or `timeout` passes); returns
        what happened since the previous flush: accepted, duplicates, rejected (with reasons), dropped,
        and how many are still pending."""
        return self._delivery.flush(timeout)

    async def aflush(self, wait_seconds: float | None = None) -> Counts:
        """`flush` for async code: waits in a worker thread, never on the event loop."""
        return await asyncio.to_thread(self._delivery.flush, wait_seconds)

    def stats(self) -> Stats:
        """Totals since the tracer started, including drops by cause, retries and what is buffered."""
        return self._delivery.stats()

    def close(self, timeout: float | None = None) -> Counts:
        """Flush (up to `timeout`, default `close_timeout`), then stop; unsent events count as dropped."""
        if self._closed:
            return Counts()
        self._closed = True
        atexit.unregister(self.close)
        return self._delivery.close(self.close_timeout if timeout is None else timeout)

    def __enter__(self) -> Tracer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
