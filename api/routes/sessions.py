"""GET /api/sessions: the console's session list."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.context import authorize, json_text, parse_query
from api.models import SessionsPage, SessionsQuery
from api.openapi import Operation


async def list_sessions(request: Request) -> Response:
    identity = await authorize(request)
    query = parse_query(SessionsQuery, request)
    page = await request.app.state.db.call(identity, "select api.list_sessions($1::jsonb)",
                                           query.model_dump_json(exclude_none=True), readonly=True)
    return json_text(page)


routes = [Route("/api/sessions", list_sessions, methods=["GET"])]
operations = [
    Operation("get", "/api/sessions", "List visible sessions, newest first", {200: SessionsPage}, query=SessionsQuery),
]
