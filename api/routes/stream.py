"""GET /api/stream: a workspace's stream as Server-Sent Events, resumable by position (docs/stream.md).

Connect: authenticate, authorise the filters once through RLS (`api.stream_authorize`), register
with the hub, backfill everything visible after the cursor as the caller, then send live
messages with positions above the last one sent. Heartbeat comments keep idle connections open;
a final `close` event says why the server ends a stream.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass

import anyio
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from api.auth import Identity
from api.config import StreamSettings
from api.context import authorize, parse_query
from api.db import Database
from api.errors import ApiError
from api.models import TRACE_ID_PATTERN, Strict
from api.openapi import Operation
from api.stream import StreamFilter, StreamHub, StreamMessage, Subscription

log = logging.getLogger("agentdeck.stream")

_BACKFILL = (
    "select stream_position, kind, project_id, session_id, data::text as data"
    " from api.stream_backfill($1, $2, $3, $4, $5)"
)
_HEARTBEAT = b": ping\n\n"
_MAX_CURSOR_DIGITS = 18  # stays inside bigint


class StreamQuery(Strict):
    workspace_id: str | None = Field(default=None, pattern=r"^ws_[A-Za-z0-9]{1,64}$")
    project_id: str | None = Field(default=None, pattern=r"^proj_[A-Za-z0-9]+$")
    session_id: str | None = Field(default=None, pattern=TRACE_ID_PATTERN)
    after_seq: int | None = Field(default=None, ge=0, lt=10**_MAX_CURSOR_DIGITS)


@dataclass(frozen=True)
class StreamScope:
    """The result of authorising a connect: what to follow and where the stream stood."""

    filter: StreamFilter
    head: int
    retained_after: int


def event_frame(event: str, data: dict[str, object], event_id: int | None = None) -> bytes:
    prefix = "" if event_id is None else f"id: {event_id}\n"
    return f"{prefix}event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def cursor_of(request: Request, query: StreamQuery) -> int | None:
    """Last-Event-ID (what a reconnecting EventSource sends, with the original URL) wins over after_seq."""
    header = request.headers.get("last-event-id", "").strip()
    if not header:
        return query.after_seq
    if not (header.isascii() and header.isdigit() and len(header) <= _MAX_CURSOR_DIGITS):
        raise ApiError(400, "Last-Event-ID must be a stream position", code="bad_cursor")
    return int(header)


async def authorize_scope(db: Database, identity: Identity, query: StreamQuery) -> StreamScope:
    granted = json.loads(await db.call(identity, "select api.stream_authorize($1, $2)", query.workspace_id,
                                       query.project_id, readonly=True))
    projects = granted["project_ids"]
    return StreamScope(
        StreamFilter(granted["workspace_id"], None if projects is None else frozenset(projects), query.session_id),
        head=granted["head"],
        retained_after=granted["retained_after"],
    )


class StreamSession:
    """One subscriber's stream, from its registration to the frame that ends it."""

    def __init__(self, hub: StreamHub, db: Database, settings: StreamSettings, identity: Identity,
                 query: StreamQuery, scope: StreamScope, cursor: int | None) -> None:
        self._hub = hub
        self._db = db
        self._settings = settings
        self._identity = identity
        self._query = query
        self._scope = scope
        self._cursor = cursor
        self.last_sent = scope.head if cursor is None else cursor

    async def frames(self) -> AsyncGenerator[bytes, None]:
        yield f"retry: {self._settings.retry_ms}\n\n".encode()
        with self._hub.subscribe(self._scope.filter, self._scope.head) as subscription:
            if self._cursor is not None and self._cursor < self._scope.retained_after:
                yield self._reset_frame()
                self.last_sent = self._scope.head
            try:
                async for chunk in self._backfill(subscription):
                    yield chunk
                async for chunk in self._live(subscription):
                    yield chunk
            except ApiError as exc:
                # The database failed mid-stream: the client resumes from the last id it received.
                yield self._close(exc.code)

    def _reset_frame(self) -> bytes:
        """Positions after the cursor were pruned: the client reloads its view and follows from the head."""
        return event_frame("reset", {"reason": "cursor_expired", "cursor": self._cursor,
                                     "retained_after": self._scope.retained_after, "head": self._scope.head},
                           event_id=self._scope.head)

    def _close(self, reason: str) -> bytes:
        return event_frame("close", {"reason": reason, "last_event_id": self.last_sent})

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
        async with self._db.transaction(self._identity, readonly=True) as conn:
            rows = await conn.fetch(_BACKFILL, stream_filter.workspace_id, self._query.project_id,
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
            await authorize_scope(self._db, self._identity, self._query)
        except ApiError as exc:
            return exc.status not in (401, 403)
        return True


class EventStreamResponse(StreamingResponse):
    """text/event-stream that stops on client disconnect, cuts off a client that stopped reading,
    and always runs the stream's cleanup."""

    def __init__(self, frames: AsyncGenerator[bytes, None], send_timeout: float) -> None:
        super().__init__(frames, media_type="text/event-stream",
                         headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        self._frames = frames
        self._send_timeout = send_timeout
        self._sending_since: float | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        loop = asyncio.get_running_loop()
        async with anyio.create_task_group() as group:
            group.start_soon(_cancel_on_disconnect, receive, group.cancel_scope.cancel)
            group.start_soon(self._cut_off_when_stalled, group.cancel_scope.cancel)
            try:
                async for chunk in self._frames:
                    self._sending_since = loop.time()
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    self._sending_since = None
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            finally:
                with anyio.CancelScope(shield=True):
                    await self._frames.aclose()
            group.cancel_scope.cancel()

    async def _cut_off_when_stalled(self, cancel: Callable[[], None]) -> None:
        """A send blocked this long means the client reads nothing: close its socket rather than hold
        its buffers (a watchdog, so that sends themselves carry no timer)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._send_timeout / 4)
            if self._sending_since is not None and loop.time() - self._sending_since > self._send_timeout:
                log.warning("stream client accepted nothing for %ss; dropping it", self._send_timeout)
                cancel()
                return


async def _cancel_on_disconnect(receive: Receive, cancel: Callable[[], None]) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    cancel()


async def stream(request: Request) -> Response:
    identity = await authorize(request)
    query = parse_query(StreamQuery, request)
    cursor = cursor_of(request, query)
    state = request.app.state
    scope = await authorize_scope(state.db, identity, query)
    session = StreamSession(state.stream_hub, state.db, state.settings.stream, identity, query, scope, cursor)
    return EventStreamResponse(session.frames(), state.settings.stream.send_timeout_seconds)


routes = [Route("/api/stream", stream, methods=["GET"])]
operations = [
    Operation("get", "/api/stream", "Server-Sent Events of a workspace: backfill after the cursor, then live",
              {}, query=StreamQuery, extra={"responses": {"200": {
                  "description": "text/event-stream: `id:` position, `event:` kind, `data:` JSON (docs/stream.md);"
                                 " resume with the Last-Event-ID header",
                  "content": {"text/event-stream": {"schema": {"type": "string"}}},
              }}}),
]
