"""GET /api/stream: a workspace's stream as Server-Sent Events, resumable by position (docs/stream.md).

The handler parses the request and authorises it once through RLS; the stream itself (backfill,
live, heartbeats, its end) is api/stream/session.py, sent by api/stream/response.py.
"""

from __future__ import annotations

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.context import authorize, parse_query
from api.errors import ApiError
from api.models import TRACE_ID_PATTERN, Strict
from api.openapi import Operation
from api.stream.response import EventStreamResponse
from api.stream.session import StreamSession, StreamTarget, authorize_scope

_MAX_CURSOR_DIGITS = 18  # stays inside bigint


class StreamQuery(Strict):
    workspace_id: str | None = Field(default=None, pattern=r"^ws_[A-Za-z0-9]{1,64}$")
    project_id: str | None = Field(default=None, pattern=r"^proj_[A-Za-z0-9]+$")
    session_id: str | None = Field(default=None, pattern=TRACE_ID_PATTERN)
    after_seq: int | None = Field(default=None, ge=0, lt=10**_MAX_CURSOR_DIGITS)


def cursor_of(request: Request, query: StreamQuery) -> int | None:
    """Last-Event-ID (what a reconnecting EventSource sends, with the original URL) wins over after_seq."""
    header = request.headers.get("last-event-id", "").strip()
    if not header:
        return query.after_seq
    if not (header.isascii() and header.isdigit() and len(header) <= _MAX_CURSOR_DIGITS):
        raise ApiError(400, "Last-Event-ID must be a stream position", code="bad_cursor")
    return int(header)


async def stream(request: Request) -> Response:
    identity = await authorize(request)
    query = parse_query(StreamQuery, request)
    cursor = cursor_of(request, query)
    state = request.app.state
    target = StreamTarget(query.workspace_id, query.project_id, query.session_id)
    scope = await authorize_scope(state.db, identity, target)
    session = StreamSession(state.stream_hub, state.db, state.settings.stream, identity, target, scope, cursor)
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
