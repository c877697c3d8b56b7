"""The fast path's checks against the pydantic models (api/event_fast_path.py): on every edge case
below, whatever it accepts the models accept, with the same columns and hash; and it does accept
the common shapes, or it would save nothing."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from api.event_fast_path import common_event
from api.event_types import MAX_SEQ, event_for_sql, validate_event

# Valid events of each fast-path type; every field of each (in the envelope, the payload or a nested
# usage/error object) is then set, one at a time, to each value on the edges of the models' types,
# or removed. Exhaustive, so every rule is tried at its boundary.
BASES: list[dict[str, Any]] = [
    {"seq": 0, "type": "llm.request", "payload": {"model": "m", "messages": [{"role": "user"}]}},
    {"seq": 1, "type": "llm.response", "idempotency_key": "k",
     "payload": {"model": "m", "usage": {"input_tokens": 5, "output_tokens": 0, "total_tokens": 5}}},
    {"seq": 2, "type": "llm.response", "name": "n", "parent_seq": 1,
     "payload": {"model": "m", "usage": {}, "error": {"type": "E", "message": "m", "code": 429}}},
    {"seq": 3, "type": "tool.call", "payload": {"tool": "t", "arguments": {"a": 1}}},
    {"seq": 4, "type": "tool.result", "payload": {"tool": "t", "status": "ok", "output": "o"}},
    {"seq": 5, "type": "tool.result", "payload": {"tool": "t", "status": "error", "error": {"message": "m"}}},
    {"seq": 6, "type": "log", "payload": {"level": "warn", "message": "m"}},
    {"seq": 7, "type": "error", "payload": {"message": "m", "type": "E", "code": "E1"}},
    {"seq": MAX_SEQ, "type": "custom.step", "payload": {"a": 1}},
]
EDGES: list[Any] = [None, True, False, 0, -1, 7, 5.0, "5", "", "ok", "error", "ERROR", "x" * 501, [], {}, [1],
                    {"message": 3}, MAX_SEQ, MAX_SEQ + 1, 2**70, "2026-01-01T00:00:00Z", "custom." + "a" * 94,
                    "custom.Bad", "session.end"]
REMOVED = object()
ENVELOPE = ["seq", "idempotency_key", "type", "name", "ts", "parent_seq", "payload", "unexpected"]


def paths(raw: dict[str, Any]) -> list[tuple[str, ...]]:
    payload = raw["payload"]
    nested = [(field, inner) for field in ("usage", "error") if isinstance(payload.get(field), dict)
              for inner in ("input_tokens", "output_tokens", "total_tokens", "type", "message", "code")]
    known = ["model", "messages", "usage", "error", "tool", "arguments", "status", "level", "message", "type", "code"]
    return ([(field,) for field in ENVELOPE] + [("payload", field) for field in known]
            + [("payload", *path) for path in nested])


def variant(raw: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(raw)
    target = changed
    for step in path[:-1]:
        target = target[step]
    if value is REMOVED:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value
    return changed


def test_what_the_fast_path_accepts_the_models_accept_with_the_same_columns() -> None:
    tried = accepted = 0
    for base in BASES:
        for path in paths(base):
            for value in [*EDGES, REMOVED]:
                raw = variant(base, path, value)
                tried += 1
                fast = common_event(raw, 3)
                if fast is None:
                    continue
                accepted += 1
                try:
                    checked = validate_event(raw)
                except ValidationError as exc:
                    pytest.fail(f"the fast path accepted what the models refuse: {raw!r}: {exc}")
                assert fast == event_for_sql(checked, 3), raw
    assert accepted > tried // 10, (accepted, tried)  # the edges are not all refusals


@pytest.mark.parametrize("raw", [
    {"seq": 0, "type": "llm.request", "payload": {"model": "m", "messages": [{"role": "user", "content": "hi"}]}},
    {"seq": 1, "type": "llm.response", "payload": {"model": "m", "usage": {"input_tokens": 5}, "content": "x"}},
    {"seq": 2, "type": "tool.call", "idempotency_key": "k-2", "payload": {"tool": "t", "arguments": {"a": 1}}},
    {"seq": 3, "type": "tool.result", "parent_seq": 2, "payload": {"tool": "t", "status": "ok", "output": "o"}},
    {"seq": 4, "type": "tool.result", "payload": {"tool": "t", "status": "error", "error": {"message": "m"}}},
    {"seq": 5, "type": "log", "name": "note", "payload": {"message": "no level: stored with its default"}},
    {"seq": 6, "type": "error", "payload": {"message": "boom", "code": 500}},
    {"seq": 7, "type": "custom.step", "payload": {"anything": [1, {"goes": None}]}},
])
def test_the_common_shapes_take_the_fast_path(raw: dict[str, Any]) -> None:
    fast = common_event(raw, 0)
    assert fast is not None
    assert fast == event_for_sql(validate_event(raw), 0)
