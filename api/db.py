"""The connection pool and the request transaction.

Every request runs as: BEGIN [READ ONLY]; one `set_config` statement that switches to the
request role and sets its claims and statement timeout; one `api.*` call; COMMIT. The pool logs
in as `agentdeck_api` (NOINHERIT): outside that switch it can do nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from api.auth import Identity
from api.errors import ApiError, from_postgres, to_api_error
from api.middleware import current_request_id
from api.ratelimit import RateLimited

if TYPE_CHECKING:
    Connection = asyncpg.pool.PoolConnectionProxy[asyncpg.Record]

_SET_REQUEST = (
    "select set_config('role', $1, true), set_config('request.jwt.claims', $2, true),"
    " set_config('statement_timeout', $3, true), set_config('request.id', $4, true)"
)


def api_role_url(admin_url: str) -> str:
    """The admin URL with the user swapped for the pool's login role (password kept, if any)."""
    parts = urlsplit(admin_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    password = parts.password
    credentials = "agentdeck_api" + (f":{password}" if password else "")
    return urlunsplit((parts.scheme, f"{credentials}@{host}", parts.path, parts.query, parts.fragment))


async def _init_connection(conn: asyncpg.Connection) -> None:
    # json/jsonb travel as text: SQL builds the response JSON, Python forwards it untouched.
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(type_name, encoder=str, decoder=str, schema="pg_catalog", format="text")


async def _keep_connection(conn: asyncpg.Connection) -> None:
    """Nothing to reset between requests: every setting a request makes is transaction-local."""


class Database:
    """The request-path pool, with a bound on how many requests may wait for a connection."""

    def __init__(self, pool: asyncpg.Pool, statement_timeout_ms: int, max_waiters: int) -> None:
        self.pool = pool
        self._timeout = str(statement_timeout_ms)
        self._max_waiters = max_waiters
        self._waiting = 0
        # Told whether the database accepted an API key (the rate limiter's verified identities).
        self.key_checked: Callable[[Identity, bool], None] = lambda identity, accepted: None

    @classmethod
    async def connect(cls, url: str, *, min_size: int, max_size: int, statement_timeout_ms: int,
                      max_waiters: int) -> Database:
        pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size, init=_init_connection,
                                         reset=_keep_connection)
        return cls(pool, statement_timeout_ms, max_waiters)

    async def close(self) -> None:
        await self.pool.close()

    @property
    def waiting(self) -> int:
        """Requests waiting for a connection now (for /metrics)."""
        return self._waiting

    @asynccontextmanager
    async def transaction(self, identity: Identity, *, readonly: bool) -> AsyncIterator[Connection]:
        """A transaction as the identity's request role; database errors leave as ApiError."""
        if self._waiting >= self._max_waiters:
            raise to_api_error(RateLimited("backpressure", 1))  # leaves as ApiError, like every database failure
        self._waiting += 1
        try:
            conn = await self.pool.acquire()
        except Exception as exc:
            raise from_postgres(exc) from exc
        finally:
            self._waiting -= 1
        try:
            async with conn.transaction(readonly=readonly):
                await conn.execute(_SET_REQUEST, identity.role, json.dumps(identity.claims), self._timeout,
                                   current_request_id.get() or "")
                yield conn
        except ApiError:
            raise
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            error = from_postgres(exc)
            if identity.kind == "key" and error.status == 401:
                self.key_checked(identity, False)
            raise error from exc
        else:
            if identity.kind == "key":
                self.key_checked(identity, True)
        finally:
            await self.pool.release(conn)

    async def call(self, identity: Identity, sql: str, *args: Any, readonly: bool) -> Any:
        """Run one `api.*` statement (a fixed SQL text, never built from input) and return its value."""
        async with self.transaction(identity, readonly=readonly) as conn:
            return await conn.fetchval(sql, *args)
