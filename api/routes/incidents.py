"""Incidents: GET /api/incidents and PATCH /api/incidents/{id}. Clustering happens in SQL."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.context import authorize, json_text, parse_body, parse_query, read_json
from api.errors import ApiError
from api.models import Incident, IncidentPatch, IncidentsPage, IncidentsQuery
from api.openapi import Operation

_INCIDENT_ID = re.compile(r"^inc_[A-Za-z0-9]{1,64}$")


def incident_id_of(request: Request) -> str:
    """The path's incident id; one that cannot exist is a 404 without a database call."""
    incident_id: str = request.path_params["incident_id"]
    if not _INCIDENT_ID.match(incident_id):
        raise ApiError(404, f"incident {incident_id[:80]} not found", code="incident_not_found")
    return incident_id


async def list_incidents(request: Request) -> Response:
    identity = await authorize(request)
    query = parse_query(IncidentsQuery, request)
    page = await request.app.state.db.call(
        identity, "select api.list_incidents($1::jsonb)", query.model_dump_json(exclude_none=True), readonly=True
    )
    return json_text(page)


async def update_incident(request: Request) -> Response:
    identity = await authorize(request)
    if identity.kind == "key":
        # Checked first so a key learns this before anything about the body; SQL grants enforce it too.
        raise ApiError(403, "API keys may read incidents but not change them", code="credential_not_allowed")
    incident_id = incident_id_of(request)
    body = parse_body(IncidentPatch, await read_json(request, request.app.state.settings.max_body_bytes))
    updated = await request.app.state.db.call(
        identity, "select api.update_incident($1, $2::jsonb)", incident_id,
        body.model_dump_json(exclude_unset=True), readonly=False,
    )
    return json_text(updated)


routes = [
    Route("/api/incidents", list_incidents, methods=["GET"]),
    Route("/api/incidents/{incident_id}", update_incident, methods=["PATCH"]),
]
operations = [
    Operation("get", "/api/incidents", "List visible incidents, most recently seen first", {200: IncidentsPage},
              query=IncidentsQuery),
    Operation("patch", "/api/incidents/{incident_id}", "Change an incident's status or owner (audit-logged)",
              {200: Incident}, body=(IncidentPatch,)),
]
