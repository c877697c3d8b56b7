"""Running the detectors over a stored session and storing the result.

The detectors run on a small thread pool of their own (never the default executor, which JWKS
fetches and `asyncio.to_thread` share). The detector thread pulls the session's events page by
page: each page is fetched by a coroutine on the event loop, which the thread waits for, one page
ahead of the detectors. The loop never waits for a thread, so no number of concurrent analyses can
starve it; memory stays bounded to two pages per running analysis. Analyses beyond the pool wait
in a bounded line; past that line the caller gets 429 (docs/detectors.md).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from api.auth import Identity
from api.db import Database
from api.detectors import analyze, canonical_json
from api.ratelimit import RateLimited

PAGE_SIZE = 5000


class AnalysisRunner:
    """The detectors' own threads, and the bound on how many analyses may be running or waiting."""

    def __init__(self, db: Database, *, threads: int, max_pending: int, page_timeout_seconds: float) -> None:
        self.db = db
        self.max_pending = max_pending
        self._page_timeout = page_timeout_seconds
        self._pending = 0
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="agentdeck-detectors")

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def analyze_session(self, identity: Identity, trace_id: str, project_id: str | None) -> dict[str, Any]:
        """The detector result for the session's events as stored now, read page by page as `identity`."""
        if self._pending >= self.max_pending:
            raise RateLimited("analysis", 1)
        loop = asyncio.get_running_loop()
        running = self._executor.submit(lambda: analyze(self._events(loop, identity, trace_id, project_id)))
        self._pending += 1  # the callback below runs on this loop, so never before this line
        # Released when the detectors really stop, not when a caller who hung up stops waiting for them.
        running.add_done_callback(lambda _: loop.call_soon_threadsafe(self._release))
        return await asyncio.wrap_future(running)

    def _release(self) -> None:
        self._pending -= 1

    def _events(self, loop: asyncio.AbstractEventLoop, identity: Identity, trace_id: str,
                project_id: str | None) -> Iterator[dict[str, Any]]:
        # Runs on a detector thread: each page is a coroutine on the loop, awaited from here. The
        # next page is asked for before this one is handed over, so the database reads it while the
        # detectors work (memory: two pages per running analysis).
        fetch: Future[dict[str, Any]] | None = asyncio.run_coroutine_threadsafe(
            self._page(identity, trace_id, project_id, None), loop)
        try:
            while fetch is not None:
                try:
                    page = fetch.result(timeout=self._page_timeout)
                except TimeoutError:
                    fetch.cancel()
                    raise
                after = page["next_after_seq"]
                fetch = None if after is None else asyncio.run_coroutine_threadsafe(
                    self._page(identity, trace_id, project_id, after), loop)
                yield from page["events"]
        finally:
            if fetch is not None:
                fetch.cancel()  # the detectors stopped early: the page read ahead is not needed

    async def _page(self, identity: Identity, trace_id: str, project_id: str | None,
                    after: int | None) -> dict[str, Any]:
        page: dict[str, Any] = json.loads(await self.db.call(
            identity, "select api.list_events($1, $2, $3, $4, null)", trace_id, project_id, after, PAGE_SIZE,
            readonly=True,
        ))
        return page


async def store_analysis(db: Database, identity: Identity, trace_id: str, project_id: str | None,
                         result: dict[str, Any], source: str) -> str:
    """Store through the one SQL write path; returns the stored analysis as JSON text."""
    stored: str = await db.call(
        identity, "select api.store_analysis($1, $2, $3::jsonb, $4)", trace_id, project_id, canonical_json(result),
        source, readonly=False,
    )
    return stored
