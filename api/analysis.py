"""Running the detectors over a stored session and storing the result.

Events are read from Postgres in pages and handed to the detectors through a small bounded queue
on a worker thread, so a 100,000-event session is analysed in bounded memory and the event loop
keeps serving while the detectors run.
"""

from __future__ import annotations

import asyncio
import json
import queue
from collections.abc import Iterator
from typing import Any

from api.auth import Identity
from api.db import Database
from api.detectors import analyze, canonical_json

PAGE_SIZE = 5000
_END = None


async def analyze_session(db: Database, identity: Identity, trace_id: str, project_id: str | None) -> dict[str, Any]:
    """The detector result for the session's events as stored now, read page by page as `identity`."""
    pages: queue.Queue[list[dict[str, Any]] | None] = queue.Queue(maxsize=2)

    def events() -> Iterator[dict[str, Any]]:
        while (page := pages.get()) is not _END:
            yield from page

    detectors = asyncio.get_running_loop().run_in_executor(None, lambda: analyze(events()))

    async def hand_over(item: list[dict[str, Any]] | None) -> None:
        # Blocks while the detectors are two pages behind; gives up if they stopped.
        while not detectors.done():
            try:
                await asyncio.to_thread(pages.put, item, True, 0.2)
                return
            except queue.Full:
                continue

    after: int | None = None
    try:
        while True:
            page = json.loads(await db.call(
                identity, "select api.list_events($1, $2, $3, $4, null)", trace_id, project_id, after, PAGE_SIZE,
                readonly=True,
            ))
            await hand_over(page["events"])
            after = page["next_after_seq"]
            if after is None:
                break
    finally:
        await hand_over(_END)
    return await detectors


async def store_analysis(db: Database, identity: Identity, trace_id: str, project_id: str | None,
                         result: dict[str, Any], source: str) -> str:
    """Store through the one SQL write path; returns the stored analysis as JSON text."""
    stored: str = await db.call(
        identity, "select api.store_analysis($1, $2, $3::jsonb, $4)", trace_id, project_id, canonical_json(result),
        source, readonly=False,
    )
    return stored
