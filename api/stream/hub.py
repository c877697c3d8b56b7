"""The hub: one read per woken workspace, fanned out in memory to that workspace's subscribers.

On each wake-up (a NOTIFY on the listener connection, api/stream/listener.py) the hub reads every
woken workspace once, by position (`internal.stream_fetch`), on that same connection, and hands the
messages to the workspace's subscribers, each keeping to what its credential was authorised for at
connect. A safety poll re-reads every followed workspace now and then, in case a wake-up was missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

import asyncpg

from api.config import StreamSettings
from api.stream.listener import CHANNEL, ListenerLost, connect_listener, listen_forever
from api.stream.messages import STREAM_COLUMNS, StreamFilter, StreamMessage

log = logging.getLogger("agentdeck.stream")

_FETCH = f"select {STREAM_COLUMNS} from internal.stream_fetch($1, $2, $3)"  # noqa: S608 - constant text


class Subscription:
    """One subscriber's bounded queue of live messages, filled by the hub in position order."""

    def __init__(self, stream_filter: StreamFilter, max_queued: int) -> None:
        self.filter = stream_filter
        self._max_queued = max_queued
        self._queue: deque[StreamMessage] = deque()
        self._ready = asyncio.Event()
        self.overflowed = False
        self.closed = False
        self.peak = 0  # the longest the queue has been

    def offer(self, admitted: Sequence[StreamMessage]) -> None:
        """Queue messages already passed through this subscription's filter."""
        if not admitted or self.overflowed:
            return
        # An empty queue takes a whole fetch (an idle subscriber is not slow): the bound is queue_max + one page.
        if self._queue and len(self._queue) + len(admitted) > self._max_queued:
            # Fallen behind: drop the queue so memory stays bounded; the stream reads the database instead.
            self._queue.clear()
            self.overflowed = True
        else:
            self._queue.extend(admitted)
            self.peak = max(self.peak, len(self._queue))
        self._ready.set()

    def restart(self) -> None:
        """Forget what is queued and any overflow: the caller is about to read the database past it."""
        self._queue.clear()
        self.overflowed = False

    async def take(self, max_wait: float) -> list[StreamMessage]:
        """The queued messages, waiting up to `max_wait` s for one; empty on timeout, overflow or close."""
        if not self._queue and not self.overflowed and not self.closed:
            self._ready.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(max_wait, 0.0)):
                    await self._ready.wait()
        if self.overflowed:
            return []
        messages = list(self._queue)
        self._queue.clear()
        return messages

    def close(self) -> None:
        self.closed = True
        self._ready.set()


class _Feed:
    """One workspace's subscribers, and the position through which the hub has handed them messages."""

    def __init__(self, last_position: int) -> None:
        self.last_position = last_position
        self.subscriptions: set[Subscription] = set()


class StreamHub:
    """Per-process fan-out of the stream: one listener connection, one read per workspace per wake-up."""

    def __init__(self, database_url: str, settings: StreamSettings) -> None:
        self._url = database_url
        self._settings = settings
        self._feeds: dict[str, _Feed] = {}
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.listener_pid: int | None = None  # the listener's backend, for operators (pg_stat_activity) and tests
        self.peak_queued = 0  # the longest any ended subscriber's queue grew: at most queue_max + one page
        self.messages_sent = 0  # messages written to subscribers, backfill included (for /metrics)
        # Test seam: awaited before each backfill page, to commit writes at a chosen point of a backfill.
        self.pause_before_backfill: Callable[[], Awaitable[None]] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(listen_forever(self._connect, self._serve), name="agentdeck-stream-listener")

    async def close(self) -> None:
        """Shutdown: open streams end with a final event, then the listener connection goes."""
        for feed in self._feeds.values():
            for subscription in feed.subscriptions:
                subscription.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @contextlib.contextmanager
    def subscribe(self, stream_filter: StreamFilter, head: int) -> Iterator[Subscription]:
        """Register a subscriber (before its backfill, so nothing committed later can slip between).

        `head` is a position the caller has seen committed: a new feed starts reading after it.
        """
        workspace_id = stream_filter.workspace_id
        feed = self._feeds.get(workspace_id)
        if feed is None:
            feed = self._feeds[workspace_id] = _Feed(head)
            self._mark_dirty(workspace_id)
        subscription = Subscription(stream_filter, self._settings.queue_max)
        feed.subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            feed.subscriptions.discard(subscription)
            self.peak_queued = max(self.peak_queued, subscription.peak)
            if not feed.subscriptions and self._feeds.get(workspace_id) is feed:
                del self._feeds[workspace_id]

    def subscriber_count(self) -> int:
        return sum(len(feed.subscriptions) for feed in self._feeds.values())

    def read_through(self, workspace_id: str) -> int | None:
        """The position through which the hub has handed out a workspace's messages (None: no subscriber)."""
        feed = self._feeds.get(workspace_id)
        return None if feed is None else feed.last_position

    def _mark_dirty(self, workspace_id: str) -> None:
        self._dirty.add(workspace_id)
        self._wake.set()

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        try:
            note = json.loads(str(payload))
            workspace_id, position = str(note["workspace_id"]), int(note["position"])
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed %s notification", CHANNEL)
            return
        feed = self._feeds.get(workspace_id)
        if feed is not None and position > feed.last_position:
            self._mark_dirty(workspace_id)

    def _on_terminated(self, _conn: Any) -> None:
        self._wake.set()

    async def _connect(self) -> asyncpg.Connection:
        return await connect_listener(self._url, self._on_notify, self._on_terminated)

    async def _serve(self, conn: asyncpg.Connection) -> None:
        """Read woken workspaces until the connection fails; ping it, and poll every feed now and then."""
        self.listener_pid = conn.get_server_pid()
        log.info("stream listener connected (backend pid %s)", self.listener_pid)
        try:
            await self._read_while_connected(conn)
        finally:
            self.listener_pid = None

    async def _read_while_connected(self, conn: asyncpg.Connection) -> None:
        # Catch up: whatever committed while nothing was listening woke no one.
        self._dirty.update(self._feeds)
        now = time.monotonic()
        next_ping, next_poll = now + self._settings.ping_seconds, now + self._settings.poll_seconds
        while True:
            if conn.is_closed():
                raise ListenerLost("listener connection closed")
            while self._dirty:
                await self._fetch(conn, self._dirty.pop())
            now = time.monotonic()
            if now >= next_poll:
                self._dirty.update(self._feeds)
                next_poll = now + self._settings.poll_seconds
                continue
            if now >= next_ping:
                await conn.fetchval("select 1", timeout=self._settings.ping_seconds)
                next_ping = now + self._settings.ping_seconds
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(next_ping, next_poll) - now):
                    await self._wake.wait()

    async def _fetch(self, conn: asyncpg.Connection, workspace_id: str) -> None:
        page_size = self._settings.page_size
        while (feed := self._feeds.get(workspace_id)) is not None:
            rows = await conn.fetch(_FETCH, workspace_id, feed.last_position, page_size)
            if not rows:
                return
            messages = [StreamMessage.from_row(row) for row in rows]
            feed.last_position = messages[-1].position
            # Subscribers share filters (every key of a project, every member): filter once per distinct one.
            admitted: dict[StreamFilter, list[StreamMessage]] = {}
            for subscription in feed.subscriptions:
                if (selection := admitted.get(subscription.filter)) is None:
                    selection = admitted[subscription.filter] = subscription.filter.select(messages)
                subscription.offer(selection)
            if len(rows) < page_size:
                return
