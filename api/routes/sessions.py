"""GET /api/sessions: the console's session list."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.context import authorize, json_text, parse_query
from api.errors import ApiError
from api.models import SessionsPage, SessionsQuery
from api.openapi import Operation

_CURSOR_KEYS = {"created_at", "workspace_id", "project_id", "trace_id"}


def decode_cursor(cursor: str) -> dict[str, Any]:
    """The last row's sort key, from the opaque cursor SQL made (base64url JSON)."""
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        value = None
    if not isinstance(value, dict) or set(value) != _CURSOR_KEYS or not all(isinstance(v, str) for v in value.values()):
        raise ApiError(400, "cursor is not one this server issued", code="bad_cursor")
    return value


async def list_sessions(request: Request) -> Response:
    identity = await authorize(request)
    query = parse_query(SessionsQuery, request)
    filters = query.model_dump(mode="json", exclude_none=True, exclude={"cursor"})
    if query.cursor is not None:
        filters["after"] = decode_cursor(query.cursor)
    page = await request.app.state.db.call(identity, "select api.list_sessions($1::jsonb)", json.dumps(filters),
                                           readonly=True)
    return json_text(page)


routes = [Route("/api/sessions", list_sessions, methods=["GET"])]
operations = [
    Operation("get", "/api/sessions", "List visible sessions, newest first", {200: SessionsPage}, query=SessionsQuery),
]
