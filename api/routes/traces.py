"""Ingestion and replay of one trace: POST /api/traces, POST and GET /api/traces/{id}/events."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.context import authorize, json_text, parse_body, parse_query, read_json, validation_details
from api.errors import ApiError, rejection_error
from api.event_fast_path import common_event
from api.event_types import EventIn, SqlEvent, event_for_sql, sql_columns, validate_event
from api.models import (
    TRACE_ID_PATTERN,
    BatchResult,
    EventBatch,
    EventsPage,
    EventsQuery,
    ProjectQuery,
    Session,
    TraceCreate,
)
from api.openapi import Operation

_TRACE_ID = re.compile(TRACE_ID_PATTERN)


def trace_id_of(request: Request) -> str:
    trace_id: str = request.path_params["trace_id"]
    if not _TRACE_ID.match(trace_id):
        raise ApiError(404, f"trace {trace_id[:128]} not found", code="trace_not_found")
    return trace_id


async def create_trace(request: Request) -> Response:
    identity = await authorize(request)
    settings = request.app.state.settings
    body = parse_body(TraceCreate, await read_json(request, settings.max_body_bytes))
    result = json.loads(await request.app.state.db.call(
        identity, "select api.create_trace($1::jsonb)", body.model_dump_json(exclude_none=True), readonly=False
    ))
    return json_text(json.dumps(result["session"]), status=201 if result["created"] else 200)


def _split_batch(raw: Any, max_events: int) -> tuple[list[Any], bool]:
    """The events of a request and whether it was a single event."""
    if isinstance(raw, dict) and "events" in raw:
        batch = parse_body(EventBatch, raw).events
        if len(batch) > max_events:
            raise ApiError(413, f"a batch holds at most {max_events} events", code="too_many_events")
        return batch, False
    if isinstance(raw, dict):
        return [raw], True
    raise ApiError(400, "the body must be an event object or {\"events\": [...]}", code="bad_shape")


def _invalid(index: int, raw: Any, trace_id: str, exc: ValidationError) -> dict[str, Any]:
    key = raw.get("idempotency_key") if isinstance(raw, dict) else None
    seq = raw.get("seq") if isinstance(raw, dict) else None
    if not isinstance(key, str):
        key = f"{trace_id}:{seq}" if isinstance(seq, int) and not isinstance(seq, bool) else None
    return {"index": index, "idempotency_key": key, "code": "invalid", "reason": "event failed schema validation",
            "details": validation_details(exc)}


async def append_events(request: Request) -> Response:
    identity = await authorize(request)
    trace_id = trace_id_of(request)
    settings = request.app.state.settings
    project_id = parse_query(ProjectQuery, request).project_id
    batch, single = _split_batch(await read_json(request, settings.max_body_bytes), settings.max_batch_events)
    valid: list[SqlEvent] = []
    invalid: list[dict[str, Any]] = []
    for index, raw in enumerate(batch):
        try:
            valid.append(common_event(raw, index) or event_for_sql(validate_event(raw), index))
        except ValidationError as exc:
            invalid.append(_invalid(index, raw, trace_id, exc))
    columns = sql_columns(valid)
    result = json.loads(await request.app.state.db.call(
        identity, "select api.append_events($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)", trace_id, project_id,
        *columns, readonly=False,
    ))
    request.app.state.metrics.count_ingest({**result, "rejected": result["rejected"] + invalid})
    if single:
        if invalid:
            raise ApiError(422, "the event failed schema validation", details=invalid[0]["details"])
        if result["rejected"]:
            raise rejection_error(result["rejected"][0])
    result["rejected"] = sorted(result["rejected"] + invalid, key=lambda r: r["index"])
    status = 201 if single and result["accepted"] else 200
    return json_text(json.dumps(result), status=status)


async def list_events(request: Request) -> Response:
    identity = await authorize(request)
    trace_id = trace_id_of(request)
    query = parse_query(EventsQuery, request, list_fields=("types",))
    page = await request.app.state.db.call(
        identity, "select api.list_events($1, $2, $3, $4, $5)",
        trace_id, query.project_id, query.after_seq, query.limit, query.types, readonly=True,
    )
    return json_text(page)


routes = [
    Route("/api/traces", create_trace, methods=["POST"]),
    Route("/api/traces/{trace_id}/events", append_events, methods=["POST"]),
    Route("/api/traces/{trace_id}/events", list_events, methods=["GET"]),
]

operations = [
    Operation("post", "/api/traces", "Create a trace session (idempotent with a client-chosen id)",
              {201: Session, 200: Session}, body=(TraceCreate,)),
    Operation("post", "/api/traces/{trace_id}/events", "Append one event or a batch",
              {200: BatchResult, 201: BatchResult}, body=(EventIn, EventBatch), query=ProjectQuery),
    Operation("get", "/api/traces/{trace_id}/events", "Read a session's events in seq order",
              {200: EventsPage}, query=EventsQuery),
]
