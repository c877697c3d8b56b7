"""The event schema (version 1): which types exist and what each payload must hold.

Payloads may carry extra keys. A field is required only where SPEC.md names it for its type
(docs/events.md#payloads); every other listed field is typed when present. `custom.*` types take any
object. The JSON Schema published in docs/event-schema.json and in /openapi.json is generated
from these models (`agentdeck schema`).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from api.timestamps import Timestamp

SCHEMA_VERSION = 1
MAX_SEQ = 2**62  # seq and parent_seq: a bigint with room to spare
TYPE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$"
# What a browser or HTTP client would follow: scheme://…, protocol-relative //host or \\host, and the
# schemes that need no slashes; leading whitespace and control characters are skipped as browsers do.
_URL = re.compile(r"^[\x00-\x20]*([a-zA-Z][a-zA-Z0-9+.-]*://|[/\\]{2}|(javascript|data|vbscript|blob|file):)",
                  re.IGNORECASE)


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorInfo(_Payload):
    type: str | None = None
    message: str | None = None
    code: str | int | None = None


class ToolSpec(_Payload):
    """A declared tool: `{name, parameters?}` or OpenAI's `{type: "function", function: {name, …}}`."""

    name: str | None = None
    parameters: dict[str, Any] | None = None
    function: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _named(self) -> ToolSpec:
        if self.name is None and not isinstance((self.function or {}).get("name"), str):
            raise ValueError("a tool needs a name (or function.name)")
        return self


class SessionStart(_Payload):
    agent: Any = None
    tools: list[str | ToolSpec] | None = None


class SessionEnd(_Payload):
    outcome: Literal["success", "failure", "error", "cancelled"]
    reason: str | None = None
    error: ErrorInfo | None = None


class LlmRequest(_Payload):
    model: str | None = None
    messages: list[Any] | None = None


class Usage(_Payload):
    input_tokens: int | None = Field(default=None, ge=0)
    output_tokens: int | None = Field(default=None, ge=0)
    total_tokens: int | None = Field(default=None, ge=0)


class LlmResponse(_Payload):
    model: str
    usage: Usage
    error: ErrorInfo | None = None


class ToolCall(_Payload):
    tool: str
    arguments: dict[str, Any] | str


class ToolResult(_Payload):
    tool: str
    status: Literal["ok", "error"]
    error: ErrorInfo | None = None

    @model_validator(mode="after")
    def _error_explained(self) -> ToolResult:
        if self.status == "error" and self.error is None:
            raise ValueError("a tool result with status 'error' needs an 'error' object")
        return self


class BrowserAction(_Payload):
    action: str | None = None


class BrowserNavigation(_Payload):
    url: str | None = None


class ArtifactRef(_Payload):
    artifact_id: str = Field(pattern=r"^art_[A-Za-z0-9]+$")
    storage_path: str = Field(min_length=1, max_length=1024)

    @model_validator(mode="after")
    def _no_urls(self) -> ArtifactRef:
        # Artifacts are private: an event must never carry a URL to one.
        if _contains_url(self.model_dump()):
            raise ValueError("artifact events carry artifact_id and storage_path, never a URL")
        return self


class Log(_Payload):
    level: str = "info"
    message: str | None = None


class Error(_Payload):
    message: str | None = None
    type: str | None = None
    code: str | int | None = None


class Assertion(_Payload):
    passed: bool
    expected: Any = None
    actual: Any = None


PAYLOADS: dict[str, type[_Payload]] = {
    "session.start": SessionStart,
    "session.end": SessionEnd,
    "llm.request": LlmRequest,
    "llm.response": LlmResponse,
    "tool.call": ToolCall,
    "tool.result": ToolResult,
    "browser.action": BrowserAction,
    "browser.navigation": BrowserNavigation,
    "artifact": ArtifactRef,
    "log": Log,
    "error": Error,
    "assertion": Assertion,
}


def _contains_url(value: Any) -> bool:
    if isinstance(value, str):
        return bool(_URL.match(value))
    if isinstance(value, dict):
        return any(_contains_url(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_url(v) for v in value)
    return False


# The rule the type validator below applies, stated for the OpenAPI document (derived, so it cannot drift).
KNOWN_TYPE_PATTERN = "^(" + "|".join(re.escape(name) for name in PAYLOADS) + r"|custom(\.[a-z0-9_]+)+)$"


class EventIn(BaseModel):
    """One event as a client sends it."""

    model_config = ConfigDict(extra="forbid")

    seq: int = Field(ge=0, le=MAX_SEQ, strict=True)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=256)
    type: str = Field(max_length=100, json_schema_extra={"pattern": KNOWN_TYPE_PATTERN})
    name: str | None = Field(default=None, max_length=500)
    ts: Timestamp | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    parent_seq: int | None = Field(default=None, ge=0, le=MAX_SEQ, strict=True)

    @model_validator(mode="after")
    def _payload_matches_type(self) -> EventIn:
        if self.type.startswith("custom.") and re.match(TYPE_PATTERN, self.type):
            return self
        model = PAYLOADS.get(self.type)
        if model is None:
            raise ValueError(f"unknown event type {self.type!r}: use one of the documented types or custom.*")
        model.model_validate(self.payload)
        if self.type == "log" and "level" not in self.payload:
            # Stored with its default, so readers and detectors see one shape.
            self.payload = {**self.payload, "level": "info"}
        return self


_EVENT = TypeAdapter(EventIn)


def validate_event(raw: Any) -> EventIn:
    """Validate one event; raises pydantic's ValidationError with the failing paths."""
    return _EVENT.validate_python(raw)


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the same content always gives the same bytes."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        # Integers beyond 64 bits: the standard library spells them (the same content always lands here).
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class SqlEvent(NamedTuple):
    """One event as api.append_events takes it: a row of its per-field arrays, in this order."""

    request_index: int
    seq: int
    idempotency_key: str | None
    type: str
    name: str | None
    ts: datetime | None
    payload: str  # JSON text
    parent_seq: int | None
    content_hash: bytes  # sha256 of the canonical content: replays are recognised by it


def event_for_sql(event: EventIn, index: int) -> SqlEvent:
    """The event's columns, with its content hashed here rather than in SQL (cheaper per batch)."""
    return sql_event(index, event.seq, event.idempotency_key, event.type, event.name, event.ts, event.payload,
                     event.parent_seq)


def sql_event(index: int, seq: int, key: str | None, event_type: str, name: str | None, ts: datetime | None,
              payload_value: dict[str, Any], parent_seq: int | None) -> SqlEvent:
    """The columns of a valid event, its content hashed (api/event_fast_path.py builds them too)."""
    payload = canonical_json(payload_value)
    # The payload is serialised once: its canonical bytes go into the content as they are (seqs fit
    # in 64 bits, so only the payload can need the standard library's spelling).
    canonical = orjson.dumps({
        "seq": seq,
        "type": event_type,
        "name": name,
        # One instant, one spelling: replays written with another UTC offset are still exact replays.
        "ts": ts.astimezone(UTC).isoformat() if ts is not None else None,
        "payload": orjson.Fragment(payload),
        "parent_seq": parent_seq,
    }, option=orjson.OPT_SORT_KEYS)
    return SqlEvent(index, seq, key, event_type, name, ts, payload.decode(), parent_seq,
                    hashlib.sha256(canonical).digest())


def sql_columns(events: list[SqlEvent]) -> list[list[Any] | None]:
    """The per-field arrays api.append_events takes. A field no event sets travels as one null (the
    function reads a null array as all nulls): encoding a hundred Nones costs more than the query."""
    columns = [list(column) for column in zip(*events, strict=True)] or [[] for _ in SqlEvent._fields]
    return [None if column and all(value is None for value in column) else column for column in columns]


def json_schema() -> dict[str, Any]:
    """The published event schema: the envelope plus one payload schema per type."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"agentdeck event schema v{SCHEMA_VERSION}",
        "version": SCHEMA_VERSION,
        "event": EventIn.model_json_schema(),
        "payloads": {name: model.model_json_schema() for name, model in sorted(PAYLOADS.items())},
        "custom": "types matching custom.<name> take any JSON object as payload",
    }
