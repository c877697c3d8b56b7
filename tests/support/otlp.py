"""OTLP/JSON exports built from compact span descriptions: the real wire shape, readable in tests."""

from __future__ import annotations

import json
import secrets
from typing import Any

BASE_NS = 1_764_000_000_000_000_000  # a fixed instant, so fixtures are byte-stable


def new_trace_id() -> str:
    return secrets.token_hex(16)


def any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": attributes(value)}}
    return {"stringValue": value}


def attributes(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": any_value(value)} for key, value in values.items()]


def span(trace_id: str, span_id: str, name: str, start_ms: int, end_ms: int, attrs: dict[str, Any] | None = None,
         *, parent: str | None = None, events: list[tuple[str, int, dict[str, Any]]] = (),
         status: tuple[int, str] | None = None) -> dict[str, Any]:
    """A span; times are milliseconds after BASE_NS; events are (name, ms, attributes)."""
    raw: dict[str, Any] = {
        "traceId": trace_id, "spanId": span_id, "name": name, "kind": 1,
        "startTimeUnixNano": str(BASE_NS + start_ms * 1_000_000),
        "endTimeUnixNano": str(BASE_NS + end_ms * 1_000_000),
        "attributes": attributes(attrs or {}),
        "events": [{"name": n, "timeUnixNano": str(BASE_NS + ms * 1_000_000), "attributes": attributes(a)}
                   for n, ms, a in events],
    }
    if parent is not None:
        raw["parentSpanId"] = parent
    if status is not None:
        raw["status"] = {"code": status[0], "message": status[1]}
    return raw


def export(*spans: dict[str, Any], service: str = "test-agent") -> dict[str, Any]:
    return {"resourceSpans": [{
        "resource": {"attributes": attributes({"service.name": service})},
        "scopeSpans": [{"scope": {"name": "tests"}, "spans": list(spans)}],
    }]}


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()
