"""The process's one LISTEN connection (never a pooled one), and keeping it connected.

Writers NOTIFY `agentdeck_stream` with `{workspace_id, position}` when they commit
(sql/functions/ingest.sql, stream.sql). The notification only wakes the hub, which reads by
position: a notification lost to a reconnect just delays messages until the catch-up read.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

log = logging.getLogger("agentdeck.stream")

CHANNEL = "agentdeck_stream"
APPLICATION_NAME = "agentdeck-listener"
_RECONNECT_MIN_SECONDS = 0.1
_RECONNECT_MAX_SECONDS = 5.0
_CONNECTION_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)

OnNotify = Callable[[Any, int, str, object], None]
OnTerminated = Callable[[Any], None]


class ListenerLost(Exception):
    """The listener connection was closed under us (terminated backend, network)."""


async def connect_listener(url: str, on_notify: OnNotify, on_terminated: OnTerminated) -> asyncpg.Connection:
    conn = await asyncpg.connect(url, timeout=10, server_settings={
        "application_name": APPLICATION_NAME, "statement_timeout": "30000",
    })
    try:
        conn.add_termination_listener(on_terminated)
        await conn.add_listener(CHANNEL, on_notify)
    except BaseException:
        conn.terminate()
        raise
    return conn


async def listen_forever(connect: Callable[[], Awaitable[asyncpg.Connection]],
                         serve: Callable[[asyncpg.Connection], Awaitable[None]]) -> None:
    """Connect and serve until cancelled; after any failure reconnect with jittered exponential backoff."""
    delay = _RECONNECT_MIN_SECONDS
    while True:
        connected_at = time.monotonic()
        try:
            conn = await connect()
            try:
                await serve(conn)
            finally:
                conn.terminate()
        except (*_CONNECTION_ERRORS, ListenerLost) as exc:
            # The URL may carry a password: log the error class only.
            log.warning("stream listener: %s; reconnecting", type(exc).__name__)
        except Exception:
            # A bug must not silence every stream of the process for good: log it and start over.
            log.exception("stream listener failed; reconnecting")
        if time.monotonic() - connected_at > _RECONNECT_MAX_SECONDS:
            delay = _RECONNECT_MIN_SECONDS  # that connection had been healthy
        # Jitter spreads the reconnects of many API processes after a database restart.
        await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not a secret
        delay = min(delay * 2, _RECONNECT_MAX_SECONDS)
