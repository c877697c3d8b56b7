"""OTLP trace exports decoded into plain spans, one malformed span never sinking the others.

Both encodings land in the same `Span` values. Protobuf decodes whole or not at all (a broken
message is a 400); a span is then rejected on its own when its ids or times are unusable. The JSON
encoding (OTLP's: hex ids, lowerCamelCase names, 64-bit integers as strings or numbers) is read by
hand, so one span with a bad id or time is rejected alone too.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2
_STATUS_NAMES = {"STATUS_CODE_UNSET": STATUS_UNSET, "STATUS_CODE_OK": STATUS_OK, "STATUS_CODE_ERROR": STATUS_ERROR}
_KIND_NAMES = {"SPAN_KIND_UNSPECIFIED": 0, "SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2, "SPAN_KIND_CLIENT": 3,
               "SPAN_KIND_PRODUCER": 4, "SPAN_KIND_CONSUMER": 5}
# Attribute nesting deeper than this is cut: a hostile export cannot make decoding recurse without end.
_MAX_DEPTH = 16


class MalformedExport(ValueError):
    """The export as a whole cannot be read (not the message, not the shape)."""


@dataclass(frozen=True)
class SpanEvent:
    name: str
    time_ns: int
    attributes: dict[str, Any]


@dataclass(frozen=True)
class Span:
    trace_id: str  # 32 lower-case hex digits
    span_id: str  # 16 lower-case hex digits
    parent_span_id: str | None
    name: str
    kind: int
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    events: tuple[SpanEvent, ...]
    status_code: int
    status_message: str
    resource: dict[str, Any] = field(default_factory=dict)
    scope: str = ""


@dataclass(frozen=True)
class RejectedSpan:
    span_id: str  # the span's id as sent, or "#<n>" (its position in the export) when it has none
    reason: str


@dataclass
class DecodedExport:
    spans: list[Span] = field(default_factory=list)
    rejected: list[RejectedSpan] = field(default_factory=list)


# --- protobuf -------------------------------------------------------------------------------------------

def decode_protobuf(body: bytes) -> DecodedExport:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError:
        raise MalformedExport("the body is not an ExportTraceServiceRequest protobuf") from None
    export = DecodedExport()
    position = 0
    for resource_spans in request.resource_spans:
        resource = _pb_attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for raw in scope_spans.spans:
                label = raw.span_id.hex() or f"#{position}"
                position += 1
                problem = _id_problem(raw.trace_id, 16, "trace_id") or _id_problem(raw.span_id, 8, "span_id")
                if problem is None and raw.parent_span_id and len(raw.parent_span_id) != 8:
                    problem = "parent_span_id must be 8 bytes"
                problem = problem or _time_problem(raw.start_time_unix_nano, raw.end_time_unix_nano)
                if problem is not None:
                    export.rejected.append(RejectedSpan(label, problem))
                    continue
                _accept(export, label, Span(
                    trace_id=raw.trace_id.hex(),
                    span_id=raw.span_id.hex(),
                    parent_span_id=raw.parent_span_id.hex() or None,
                    name=raw.name,
                    kind=raw.kind,
                    start_ns=raw.start_time_unix_nano,
                    end_ns=raw.end_time_unix_nano,
                    attributes=_pb_attributes(raw.attributes),
                    events=tuple(SpanEvent(e.name, e.time_unix_nano, _pb_attributes(e.attributes))
                                 for e in raw.events),
                    status_code=raw.status.code,
                    status_message=raw.status.message,
                    resource=resource,
                    scope=scope_spans.scope.name,
                ))
    return export


def _accept(export: DecodedExport, label: str, span: Span) -> None:
    # PostgreSQL's jsonb cannot hold NUL characters or unpaired surrogates: such a span is refused alone.
    texts = (span.name, span.status_message, span.attributes, [(e.name, e.attributes) for e in span.events])
    if _unstorable(texts):
        export.rejected.append(RejectedSpan(label, "text holds a NUL character or an unpaired surrogate"))
    else:
        export.spans.append(span)


def _unstorable(value: Any) -> bool:
    if isinstance(value, str):
        if "\x00" in value:
            return True
        try:
            value.encode()  # fails on a lone surrogate, in C
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_unstorable(k) or _unstorable(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_unstorable(v) for v in value)
    return False


def _finite(number: float) -> float | None:
    # Non-finite doubles have no JSON spelling: they read as null.
    return number if math.isfinite(number) else None


def _id_problem(value: bytes, size: int, name: str) -> str | None:
    if len(value) != size:
        return f"{name} must be {size} bytes"
    if not any(value):
        return f"{name} must not be all zeros"
    return None


def _time_problem(start_ns: int, end_ns: int) -> str | None:
    if start_ns <= 0:
        return "start_time_unix_nano is missing"
    if end_ns and end_ns < start_ns:
        return "end_time_unix_nano is before start_time_unix_nano"
    return None


def _pb_attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _pb_value(pair.value, 0) for pair in pairs}


def _pb_value(value: AnyValue, depth: int) -> Any:
    which = value.WhichOneof("value")
    if which is None or depth > _MAX_DEPTH:
        return None
    if which == "array_value":
        return [_pb_value(v, depth + 1) for v in value.array_value.values]
    if which == "kvlist_value":
        kv: list[KeyValue] = list(value.kvlist_value.values)
        return {pair.key: _pb_value(pair.value, depth + 1) for pair in kv}
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if which == "double_value":
        return _finite(value.double_value)
    return getattr(value, which)


# --- JSON -----------------------------------------------------------------------------------------------

def decode_json(document: Any) -> DecodedExport:
    if not isinstance(document, dict):
        raise MalformedExport("the body must be a JSON object with resourceSpans")
    export = DecodedExport()
    position = 0
    for resource_spans in _list(document, "resourceSpans", "resource_spans"):
        resource = _json_attributes(_field(_dict(resource_spans, "resource"), "attributes"))
        for scope_spans in _list(resource_spans, "scopeSpans", "scope_spans"):
            scope = _dict(scope_spans, "scope").get("name")
            for raw in _list(scope_spans, "spans"):
                label = _label(raw, position)
                position += 1
                try:
                    _accept(export, label, _json_span(raw, resource, scope if isinstance(scope, str) else ""))
                except ValueError as exc:
                    export.rejected.append(RejectedSpan(label, str(exc)))
    return export


def _label(raw: Any, position: int) -> str:
    span_id = raw.get("spanId", raw.get("span_id")) if isinstance(raw, dict) else None
    if isinstance(span_id, str) and span_id and len(span_id) <= 64 and span_id.isprintable():
        return span_id
    return f"#{position}"


def _json_span(raw: Any, resource: dict[str, Any], scope: str) -> Span:
    if not isinstance(raw, dict):
        raise ValueError("a span must be an object")
    trace_id = _hex_id(_field(raw, "traceId", "trace_id"), 16, "traceId")
    span_id = _hex_id(_field(raw, "spanId", "span_id"), 8, "spanId")
    parent = _field(raw, "parentSpanId", "parent_span_id")
    parent_id = _hex_id(parent, 8, "parentSpanId") if parent else None
    start_ns = _uint(_field(raw, "startTimeUnixNano", "start_time_unix_nano"), "startTimeUnixNano")
    end_ns = _uint(_field(raw, "endTimeUnixNano", "end_time_unix_nano"), "endTimeUnixNano")
    problem = _time_problem(start_ns, end_ns)
    if problem is not None:
        raise ValueError(problem)
    name = raw.get("name", "")
    status = _dict(raw, "status")
    events = []
    for event in raw.get("events") or []:
        if not isinstance(event, dict):
            raise ValueError("a span event must be an object")
        event_name = event.get("name", "")
        events.append(SpanEvent(
            name=event_name if isinstance(event_name, str) else "",
            time_ns=_uint(_field(event, "timeUnixNano", "time_unix_nano"), "event timeUnixNano"),
            attributes=_json_attributes(event.get("attributes")),
        ))
    message = status.get("message", "")
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent_id,
        name=name if isinstance(name, str) else "",
        kind=_enum(raw.get("kind"), _KIND_NAMES),
        start_ns=start_ns,
        end_ns=end_ns,
        attributes=_json_attributes(raw.get("attributes")),
        events=tuple(events),
        status_code=_enum(status.get("code"), _STATUS_NAMES),
        status_message=message if isinstance(message, str) else "",
        resource=resource,
        scope=scope,
    )


def _field(raw: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if name in raw:
            return raw[name]
    return None


def _dict(raw: Any, name: str) -> dict[str, Any]:
    value = raw.get(name) if isinstance(raw, dict) else None
    return value if isinstance(value, dict) else {}


def _list(raw: Any, *names: str) -> list[Any]:
    if not isinstance(raw, dict):
        raise MalformedExport("resourceSpans, scopeSpans and spans must hold objects")
    value = _field(raw, *names)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedExport(f"{names[0]} must be an array")
    return value


def _hex_id(value: Any, size: int, name: str) -> str:
    if not isinstance(value, str) or len(value) != size * 2:
        raise ValueError(f"{name} must be {size * 2} hex digits")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise ValueError(f"{name} must be {size * 2} hex digits") from None
    if not any(raw):
        raise ValueError(f"{name} must not be all zeros")
    return raw.hex()


def _uint(value: Any, name: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isdigit():
        number = int(value)
    else:
        raise ValueError(f"{name} must be an integer")
    if not 0 <= number < 2**64:
        raise ValueError(f"{name} is out of range")
    return number


def _enum(value: Any, names: Mapping[str, int]) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        return names.get(value, 0)
    return 0


def _json_attributes(pairs: Any) -> dict[str, Any]:
    if not isinstance(pairs, list):
        return {}
    attributes: dict[str, Any] = {}
    for pair in pairs:
        if isinstance(pair, dict) and isinstance(pair.get("key"), str):
            attributes[pair["key"]] = _json_value(pair.get("value"), 0)
    return attributes


_SNAKE_VALUE_KEYS = {"string_value": "stringValue", "bool_value": "boolValue", "int_value": "intValue",
                     "double_value": "doubleValue", "array_value": "arrayValue", "kvlist_value": "kvlistValue",
                     "bytes_value": "bytesValue"}


def _json_value(value: Any, depth: int) -> Any:
    if not isinstance(value, dict) or depth > _MAX_DEPTH:
        return None
    if len(value) == 1 and (camel := _SNAKE_VALUE_KEYS.get(next(iter(value)))) is not None:
        value = {camel: next(iter(value.values()))}
    if "stringValue" in value:
        return value["stringValue"] if isinstance(value["stringValue"], str) else None
    if "boolValue" in value:
        return value["boolValue"] if isinstance(value["boolValue"], bool) else None
    if "intValue" in value:
        raw = value["intValue"]
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lstrip("-").isdigit():
            return int(raw)
        return None
    if "doubleValue" in value:
        raw = value["doubleValue"]
        return _finite(float(raw)) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
    if "arrayValue" in value:
        values = _dict(value, "arrayValue").get("values")
        return [_json_value(v, depth + 1) for v in values] if isinstance(values, list) else []
    if "kvlistValue" in value:
        values = _dict(value, "kvlistValue").get("values")
        if not isinstance(values, list):
            return {}
        return {p["key"]: _json_value(p.get("value"), depth + 1)
                for p in values if isinstance(p, dict) and isinstance(p.get("key"), str)}
    if "bytesValue" in value:
        raw = value["bytesValue"]
        try:
            return base64.b64encode(base64.b64decode(raw, validate=True)).decode() if isinstance(raw, str) else None
        except (binascii.Error, ValueError):
            return None
    return None
