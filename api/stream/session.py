"""One subscriber's stream: authorise once through RLS, register with the hub, backfill, then live.

Registering before the first backfill read means anything committed after that read's snapshot is
handed to the subscription by the hub: nothing falls between backfill and live, and live messages
at or below the last position sent are skipped. A backfill page of a cursor older than retention
comes back as one `reset` row (id: the head) read in the page's own snapshot, so a prune can never
turn into a silent gap.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

from api.auth import Identity
from api.config import StreamSettings
from api.db import Database
from api.errors import ApiError
from api.stream.hub import StreamHub, Subscription
from api.stream.messages import STREAM_COLUMNS, StreamFilter, StreamMessage, control_frame

_BACKFILL = f"select {STREAM_COLUMNS} from api.stream_backfill($1, $2, $3, $4, $5)"  # noqa: S608 - constant text
_HEARTBEAT = b": ping\n\n"


@dataclass(frozen=True)
class StreamTarget:
    """What a client asked to follow (each narrows what its credential sees, never widens it)."""

    workspace_id: str | None
    project_id: str | None
    session_id: str | None


@dataclass(frozen=True)
class StreamScope:
    """The result of authorising a connect: what to follow and where the stream stood."""

    filter: StreamFilter
    head: int


async def authorize_scope(db: Database, identity: Identity, target: StreamTarget) -> StreamScope:
    granted = json.loads(await db.call(identity, "select api.stream_authorize($1, $2)", target.workspace_id,
                                       target.project_id, readonly=True))
    projects = granted["project_ids"]
    return StreamScope(
        StreamFilter(granted["workspace_id"], None if projects is None else frozenset(projects), target.session_id),
        head=granted["head"],
    )


class StreamSession:
    """One subscriber's stream, from its registration to the frame that ends it."""

    def __init__(self, hub: StreamHub, db: Database, settings: StreamSettings, identity: Identity,
                 target: StreamTarget, scope: StreamScope, cursor: int | None) -> None:
        self._hub = hub
        self._db = db
        self._settings = settings
        self._identity = identity
        self._target = target
        self._scope = scope
        self.last_sent = scope.head if cursor is None else cursor

    async def frames(self) -> AsyncGenerator[bytes, None]:
        yield f"retry: {self._settings.retry_ms}\n\n".encode()
        with self._hub.subscribe(self._scope.filter, self._scope.head) as subscription:
            try:
                async for chunk in self._backfill(subscription):
                    yield chunk
                async for chunk in self._live(subscription):
                    yield chunk
            except ApiError as exc:
                # The database failed mid-stream: the client resumes from the last id it received.
                yield self._close(exc.code)

    def _close(self, reason: str) -> bytes:
        return control_frame("close", {"reason": reason, "last_event_id": self.last_sent})

    def _end_reason(self, subscription: Subscription) -> str | None:
        if subscription.closed:
            return "shutdown"
        expires_at = self._identity.expires_at
        if expires_at is not None and time.time() >= expires_at:
            return "token_expired"
        return None

    async def _backfill(self, subscription: Subscription) -> AsyncIterator[bytes]:
        """Everything visible after the cursor, read as the caller; read again if live messages overflowed."""
        page_size = self._settings.page_size
        while True:
            subscription.restart()
            page: list[StreamMessage] | None = None
            while page is None or len(page) == page_size:
                if self._hub.pause_before_backfill is not None:
                    await self._hub.pause_before_backfill()
                if self._end_reason(subscription) is not None:
                    return  # the live loop sends the final event
                page = await self._read_page(self.last_sent, page_size)
                if page:
                    yield b"".join(m.frame for m in page)
                    self.last_sent = page[-1].position
                    self._hub.messages_sent += len(page)
            if not subscription.overflowed:
                return

    async def _read_page(self, after: int, page_size: int) -> list[StreamMessage]:
        stream_filter = self._scope.filter
        # An API key follows one project: read that project's index, not the whole workspace's.
        project_id = self._target.project_id or stream_filter.single_project
        async with self._db.transaction(self._identity, readonly=True) as conn:
            rows = await conn.fetch(_BACKFILL, stream_filter.workspace_id, project_id,
                                    stream_filter.session_id, after, page_size)
        return [StreamMessage.from_row(row) for row in rows]

    async def _live(self, subscription: Subscription) -> AsyncIterator[bytes]:
        """Queued messages above the last position sent; heartbeats when idle; a final close event."""
        heartbeat, reauthorize = self._settings.heartbeat_seconds, self._settings.reauthorize_seconds
        now = time.monotonic()
        heartbeat_due, reauthorize_due = now + heartbeat, now + reauthorize
        while True:
            reason = self._end_reason(subscription) or ("slow_consumer" if subscription.overflowed else None)
            if reason is not None:
                yield self._close(reason)
                return
            wait = min(heartbeat_due, reauthorize_due) - time.monotonic()
            if self._identity.expires_at is not None:
                wait = min(wait, self._identity.expires_at - time.time())
            fresh = [m for m in await subscription.take(wait) if m.position > self.last_sent]
            now = time.monotonic()
            if fresh:
                yield b"".join(m.frame for m in fresh)
                self.last_sent = fresh[-1].position
                self._hub.messages_sent += len(fresh)
                heartbeat_due = now + heartbeat
            elif now >= heartbeat_due:
                yield _HEARTBEAT
                heartbeat_due = now + heartbeat
            if now >= reauthorize_due:
                if not await self._still_authorized():
                    yield self._close("credential_revoked")
                    return
                reauthorize_due = now + reauthorize

    async def _still_authorized(self) -> bool:
        """Revoked keys and memberships end open streams within AGENTDECK_STREAM_REAUTHORIZE_SECONDS."""
        try:
            await authorize_scope(self._db, self._identity, self._target)
        except ApiError as exc:
            return exc.status not in (401, 403)
        return True
