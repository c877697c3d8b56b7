"""OpenTelemetry ingest: POST /v1/traces (OTLP/HTTP, protobuf or JSON, gzip or not).

One SQL call per export (`api.ingest_otlp`). The answer is an ExportTraceServiceResponse in the
request's encoding; spans that cannot be stored are counted and named in `partial_success`, the
others are stored. See docs/otlp.md.
"""

from __future__ import annotations

import json
import zlib
from datetime import UTC
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth import Identity
from api.context import authorize
from api.errors import ApiError
from api.event_types import validate_event
from api.openapi import Operation
from api.otlp.mapping import MappedEvent, iso, map_export
from api.otlp.spans import DecodedExport, MalformedExport, RejectedSpan, Span, decode_json, decode_protobuf

PROTOBUF, JSON = "application/x-protobuf", "application/json"
# How many rejected spans the partial_success message names one by one.
_NAMED_REJECTIONS = 20
# zlib window bits per Content-Encoding: gzip framing, or zlib framing (HTTP's "deflate").
_ZLIB_WBITS = {"gzip": 31, "deflate": 15}


async def _authorize_key(request: Request) -> Identity:
    """A project API key from `Authorization: Bearer` or, as OpenTelemetry users often configure, `x-api-key`
    (read as the Bearer credential, so the shared authorisation and throttling apply unchanged)."""
    api_key = request.headers.get("x-api-key")
    if "authorization" not in request.headers and api_key:
        scope = dict(request.scope)
        scope["headers"] = [*request.scope["headers"], (b"authorization", b"Bearer " + api_key.strip().encode())]
        request = Request(scope, request.receive)
    identity = await authorize(request)
    if identity.kind != "key":
        raise ApiError(403, "OTLP ingest takes a project API key", code="api_key_required")
    return identity


async def _read_body(request: Request, max_bytes: int) -> bytes:
    """The body, inflated when compressed; 413 when it (or what it inflates to) passes `max_bytes`."""
    too_large = ApiError(413, f"the body exceeds the limit of {max_bytes} bytes")
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", *_ZLIB_WBITS):
        raise ApiError(415, "Content-Encoding must be gzip, deflate or absent", code="unsupported_encoding")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        chunks.append(chunk)
    body = b"".join(chunks)
    if encoding == "identity":
        return body
    inflater = zlib.decompressobj(wbits=_ZLIB_WBITS[encoding])
    try:
        # Inflate at most one byte past the limit: a small bomb cannot take the memory.
        inflated = inflater.decompress(body, max_bytes + 1)
    except zlib.error:
        raise ApiError(400, f"the body is not valid {encoding}", code="malformed_encoding") from None
    if len(inflated) > max_bytes or inflater.unconsumed_tail:
        raise too_large
    if not inflater.eof:
        raise ApiError(400, f"the {encoding} body is truncated", code="malformed_encoding")
    return inflated


def _decode(media_type: str, body: bytes) -> DecodedExport:
    try:
        if media_type == PROTOBUF:
            return decode_protobuf(body)
        try:
            document = json.loads(body, parse_constant=lambda _: None)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise MalformedExport("the body is not valid JSON") from None
        return decode_json(document)
    except MalformedExport as exc:
        raise ApiError(400, str(exc), code="malformed_export") from None


def _unique_spans(export: DecodedExport) -> list[Span]:
    seen: set[tuple[str, str]] = set()
    spans = []
    for span in export.spans:
        if (span.trace_id, span.span_id) in seen:
            export.rejected.append(RejectedSpan(span.span_id, "span id repeated in this export"))
        else:
            seen.add((span.trace_id, span.span_id))
            spans.append(span)
    return spans


def _for_sql(event: MappedEvent, index: int) -> dict[str, Any]:
    raw = {"seq": 0, "idempotency_key": event.key, "type": event.type, "name": event.name,
           "ts": iso(event.time_ns), "payload": event.payload}
    valid = validate_event(raw)
    # No seq and no content hash here: api.ingest_otlp numbers the events under the session's lock,
    # and the SQL form of append_events hashes them (the same hash on every re-sent export).
    return {"index": index, "idempotency_key": valid.idempotency_key, "type": valid.type, "name": valid.name,
            "ts": valid.ts.astimezone(UTC).isoformat() if valid.ts is not None else None,
            "payload": valid.payload, "parent_key": event.parent_key}


def _sql_input(export: DecodedExport) -> tuple[list[dict[str, Any]], list[str]]:
    """The traces for api.ingest_otlp, and the span id behind each event index."""
    traces: list[dict[str, Any]] = []
    span_of_index: list[str] = []
    for trace in map_export(_unique_spans(export)):
        invalid = dict(trace.unmapped)
        rows: list[tuple[str, dict[str, Any]]] = []
        for event in trace.events:
            try:
                rows.append((event.span_id, _for_sql(event, 0)))
            except ValidationError as exc:
                invalid.setdefault(event.span_id, f"{event.type} event failed validation: {exc.errors()[0]['msg']}")
            except RecursionError:
                invalid.setdefault(event.span_id, f"{event.type} event is nested too deeply")
        export.rejected.extend(RejectedSpan(span_id, reason) for span_id, reason in invalid.items())
        events = []
        for span_id, row in rows:
            if span_id not in invalid:
                row["index"] = len(span_of_index)
                span_of_index.append(span_id)
                events.append(row)
        if not events:
            continue  # every span of the trace was refused: no session for it
        # The export that creates the session names it (when it holds the root span); later ones do not rename it.
        session: dict[str, Any] = {"id": trace.trace_id, "metadata": {"source": "otlp"}}
        if trace.name is not None:
            session["name"] = trace.name
        if trace.agent is not None:
            session["agent"] = trace.agent
        traces.append({"session": session, "events": events})
    return traces, span_of_index


def _response(media_type: str, rejected: list[RejectedSpan]) -> Response:
    message = ExportTraceServiceResponse()
    if rejected:
        named = "; ".join(f"{r.span_id}: {r.reason}" for r in rejected[:_NAMED_REJECTIONS])
        more = f"; and {len(rejected) - _NAMED_REJECTIONS} more" if len(rejected) > _NAMED_REJECTIONS else ""
        message.partial_success.rejected_spans = len(rejected)
        message.partial_success.error_message = f"{len(rejected)} span(s) rejected: {named}{more}"
    if media_type == PROTOBUF:
        return Response(message.SerializeToString(), media_type=PROTOBUF)
    return Response(json.dumps(json_format.MessageToDict(message)), media_type=JSON)


async def export_traces(request: Request) -> Response:
    identity = await _authorize_key(request)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in (PROTOBUF, JSON):
        raise ApiError(415, f"the body must be {PROTOBUF} or {JSON}")
    body = await _read_body(request, request.app.state.settings.max_body_bytes)
    export = _decode(media_type, body)
    traces, span_of_index = _sql_input(export)
    # Called even for an empty export: the key itself is checked (and may be revoked) inside SQL.
    result = json.loads(await request.app.state.db.call(
        identity, "select api.ingest_otlp($1::jsonb)", json.dumps(traces), readonly=False,
    ))
    reasons: dict[str, str] = {}
    for rejection in result["rejected"]:
        span_id = span_of_index[rejection["index"]]
        reasons.setdefault(span_id, f"{rejection['code']} ({rejection['reason']})")
    export.rejected.extend(RejectedSpan(span_id, reason) for span_id, reason in reasons.items())
    return _response(media_type, export.rejected)


routes = [Route("/v1/traces", export_traces, methods=["POST"])]

operations = [
    Operation("post", "/v1/traces", "OTLP/HTTP trace export (protobuf or JSON); answers ExportTraceServiceResponse",
              {200: None}, extra={"requestBody": {"required": True, "content": {
                  PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
                  JSON: {"schema": {"type": "object", "description": "OTLP/JSON ExportTraceServiceRequest"}},
              }}}),
]
