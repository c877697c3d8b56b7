"""Stream retention: the worker prunes stream messages older than each workspace's retention.

Each step is one short transaction (`internal.prune_expired_stream`): one workspace, at most
`retention_batch` rows, so the workspace's counter row (which its writers need) is held briefly.
A pass visits every workspace; passes repeat while they remove anything, then wait an interval.
Replicas may all run it: steps on one workspace serialise on its counter row, and a step finds
nothing left to do after another replica's. Cursors older than the watermark get `reset`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from api.config import StreamSettings
from api.db import Database

log = logging.getLogger("agentdeck.stream")

_STEP = "select workspace_id, removed from internal.prune_expired_stream($1, $2, $3)"


class StreamRetention:
    def __init__(self, db: Database, settings: StreamSettings) -> None:
        self._db = db
        self._batch = settings.retention_batch
        self._interval = settings.retention_interval_seconds
        # None: keep forever, unless a workspace sets its own (app.workspaces.stream_retention).
        self._default = timedelta(seconds=settings.retention_seconds) if settings.retention_seconds else None

    async def run(self) -> None:
        """Prune until cancelled."""
        while True:
            try:
                while await self.prune_pass():
                    pass  # each step awaits the database: requests get their turns in between
            except Exception:  # noqa: BLE001 - retention must outlive any failure; the next pass resumes
                log.exception("stream retention: pass failed; retrying after an interval")
            await asyncio.sleep(self._interval)

    async def prune_pass(self) -> int:
        """One step per workspace; the rows removed in all."""
        after, removed = "", 0
        while True:
            async with self._db.pool.acquire() as conn:
                step = await conn.fetchrow(_STEP, after, self._default, self._batch)
            if step is None:
                return removed
            after, removed = step["workspace_id"], removed + step["removed"]
