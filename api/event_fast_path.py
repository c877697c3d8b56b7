"""The frequent event shapes, checked without pydantic: a conservative subset of api/event_types.py.

Validating an event through the pydantic models costs about 10 µs, a fifth of the API's CPU per
batch. Most events are plainly valid LLM, tool, log and custom events, which these few type tests
accept in a tenth of that. `common_event` returns such an event's columns and None for anything
else — another type, a timestamp, a value the models would coerce or refuse — which the models
then decide and, on refusal, explain. So it may accept only what the models accept, stored the
same: tests/api/test_event_fast_path.py checks that on generated events.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from api.event_types import MAX_SEQ, TYPE_PATTERN, SqlEvent, sql_event

_ENVELOPE = frozenset({"seq", "idempotency_key", "type", "name", "ts", "payload", "parent_seq"})
_CUSTOM = re.compile(TYPE_PATTERN)


# Exact JSON types only: pydantic's lax mode also takes "5" or 5.0 for an int, which is its call.
def _seq(value: Any) -> bool:
    return type(value) is int and 0 <= value <= MAX_SEQ


def _text(value: Any, max_length: int | None = None) -> bool:
    return type(value) is str and (max_length is None or len(value) <= max_length)


def _optional_text(value: Any) -> bool:
    return value is None or type(value) is str


def _optional_count(value: Any) -> bool:
    return value is None or (type(value) is int and value >= 0)


def _optional_code(value: Any) -> bool:
    return value is None or type(value) is str or type(value) is int


def _error_info(value: Any) -> bool:
    """ErrorInfo and the `error` event's payload: type, message and code, each optional."""
    return type(value) is dict and _optional_text(value.get("type")) and _optional_text(value.get("message")) \
        and _optional_code(value.get("code"))


def _optional_error_info(value: Any) -> bool:
    return value is None or _error_info(value)


def _llm_request(p: dict[str, Any]) -> bool:
    return _optional_text(p.get("model")) and (p.get("messages") is None or type(p["messages"]) is list)


def _llm_response(p: dict[str, Any]) -> bool:
    usage = p.get("usage")
    return _text(p.get("model")) and type(usage) is dict and _optional_count(usage.get("input_tokens")) \
        and _optional_count(usage.get("output_tokens")) and _optional_count(usage.get("total_tokens")) \
        and _optional_error_info(p.get("error"))


def _tool_call(p: dict[str, Any]) -> bool:
    return _text(p.get("tool")) and type(p.get("arguments")) in (dict, str)


def _tool_result(p: dict[str, Any]) -> bool:
    status, error = p.get("status"), p.get("error")
    return _text(p.get("tool")) and status in ("ok", "error") and _optional_error_info(error) \
        and (status == "ok" or error is not None)


def _log(p: dict[str, Any]) -> bool:
    return _text(p.get("level", "info")) and _optional_text(p.get("message"))


_PAYLOADS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "llm.request": _llm_request,
    "llm.response": _llm_response,
    "tool.call": _tool_call,
    "tool.result": _tool_result,
    "log": _log,
    "error": _error_info,
}


def _payload_accepted(event_type: str, payload: dict[str, Any]) -> bool:
    check = _PAYLOADS.get(event_type)
    if check is not None:
        return check(payload)
    return event_type.startswith("custom.") and _CUSTOM.match(event_type) is not None


def common_event(raw: Any, index: int) -> SqlEvent | None:
    """The event's columns if it has one of the common shapes and is valid; None: ask the models."""
    if type(raw) is not dict or not _ENVELOPE.issuperset(raw) or raw.get("ts") is not None:
        return None
    seq: Any = raw.get("seq")
    event_type: Any = raw.get("type")
    key, name, payload, parent_seq = raw.get("idempotency_key"), raw.get("name"), raw.get("payload", {}), \
        raw.get("parent_seq")
    if not (_seq(seq) and (key is None or (_text(key, 256) and key)) and _text(event_type, 100)
            and (name is None or _text(name, 500)) and (parent_seq is None or _seq(parent_seq))
            and type(payload) is dict and _payload_accepted(event_type, payload)):
        return None
    if event_type == "log" and "level" not in payload:
        payload = {**payload, "level": "info"}  # the models' default, stored
    return sql_event(index, seq, key, event_type, name, None, payload, parent_seq)
