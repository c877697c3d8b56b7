"""Same ordered events in, same bytes out: key order, timestamps and hash seeds do not matter."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.detectors import analyze, canonical_json

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = sorted((ROOT / "tests" / "corpus").glob("*/*.json"))

json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)

EVENT_TYPES = [
    "session.start", "session.end", "llm.request", "llm.response", "tool.call", "tool.result", "browser.action",
    "browser.navigation", "artifact", "log", "error", "assertion", "custom.note",
]  # fmt: skip
PAYLOAD_KEYS = [
    "tool", "arguments", "status", "error", "output", "exit_code", "call_id", "url", "status_code", "action",
    "selector", "screenshot_digest", "dom_digest", "content", "tool_calls", "finish_reason", "refusal", "passed",
    "expected", "actual", "message", "level", "outcome", "reason", "tools", "type", "code", "stack", "model",
]  # fmt: skip
# Values that make detectors fire, mixed with arbitrary JSON so odd shapes are exercised too.
TRIGGERS = st.sampled_from(
    [
        "ok", "error", "success", "failure", "search", "python", 429, 404, 503, 504, 401, 0, 1, 124, "s1", "s2",
        "", None, True, False, "Rate limit reached", "Traceback (most recent call last):\nKeyError: 'x'",
        "Reached max steps.", "context_length_exceeded", '{"q": 1', {"q": "x"}, {"type": "TimeoutError"},
        {"status": 429, "message": "slow down"}, [{"name": "search", "arguments": "{"}], ["search"],
        [{"name": "search", "parameters": {"required": ["q"], "properties": {"q": {"type": "string"}}}}],
    ]
)  # fmt: skip
NESTED_KEYS = [*PAYLOAD_KEYS, "function", "name", "parameters", "properties", "required", "stderr", "stdout",
               "returncode", "text", "input_schema", "id"]  # fmt: skip
# Our field names at every depth, so odd shapes inside error/output/tool_calls/tools are reached.
keyed_values = st.recursive(
    TRIGGERS | json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(NESTED_KEYS), children, max_size=4)
    ),
    max_leaves=10,
)
payloads = st.dictionaries(st.sampled_from(PAYLOAD_KEYS), TRIGGERS | keyed_values | json_values, max_size=6)


@st.composite
def sessions(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(0, 25))
    events: list[dict[str, Any]] = []
    for seq in range(count):
        event: dict[str, Any] = {"seq": seq, "type": draw(st.sampled_from(EVENT_TYPES)), "payload": draw(payloads)}
        if draw(st.booleans()):
            event["name"] = draw(st.sampled_from(["search", "python", None]))
        if seq and draw(st.booleans()):
            event["parent_seq"] = draw(st.integers(0, seq - 1))
        events.append(event)
    return events


def _reordered(value: Any, rng: random.Random) -> Any:
    """The same JSON value, rebuilt with every object's keys in a shuffled insertion order."""
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {key: _reordered(value[key], rng) for key in keys}
    if isinstance(value, list):
        return [_reordered(item, rng) for item in value]
    return value


def _bytes(events: Any) -> str:
    return canonical_json(analyze(events))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=sessions(), seed=st.integers(0, 2**32))
def test_reordered_and_rebuilt_keys_give_byte_identical_output(events: list[dict[str, Any]], seed: int) -> None:
    expected = _bytes(events)
    assert _bytes(_reordered(events, random.Random(seed))) == expected
    assert _bytes(json.loads(json.dumps(events))) == expected


@settings(max_examples=100, deadline=None)
@given(events=sessions(), stamps=st.lists(json_values, min_size=1, max_size=4))
def test_client_timestamps_and_storage_fields_change_nothing(events: list[dict[str, Any]], stamps: list[Any]) -> None:
    stamped = [
        {**event, "ts": stamps[i % len(stamps)], "received_at": stamps[-1], "position": i, "idempotency_key": str(i)}
        for i, event in enumerate(events)
    ]
    assert _bytes(stamped) == _bytes(events)


@settings(max_examples=200, deadline=None)
@given(
    events=st.lists(
        st.dictionaries(st.sampled_from(["seq", "type", "name", "payload", "parent_seq", "ts"]), json_values)
        | json_values,
        max_size=12,
    )
)
def test_any_json_shaped_input_is_analysed_without_raising(events: list[Any]) -> None:
    analysis = analyze(events)
    assert set(analysis) == {"detector_version", "input_digest", "labels", "critical_step", "verdict"}
    json.loads(canonical_json(analysis))


@settings(max_examples=150, deadline=None)
@given(events=sessions())
def test_realistic_shapes_with_odd_values_yield_well_formed_labels(events: list[dict[str, Any]]) -> None:
    analysis = analyze(events)
    seqs = {event["seq"] for event in events}
    for entry in analysis["labels"]:
        assert 0 <= entry["confidence"] <= 1
        assert entry["critical_seq"] in seqs
        assert set(entry["evidence"]["seqs"]) <= seqs
        assert entry["critical_seq"] in entry["evidence"]["seqs"]
        assert entry["cause_seq"] in seqs and entry["cause_seq"] <= entry["critical_seq"]
        assert entry["recovered"] is (entry["recovered_by_seq"] is not None)
        if entry["recovered"]:
            assert entry["critical_seq"] < entry["recovered_by_seq"] <= max(seqs)
    keys = [(entry["critical_seq"], entry["label"]) for entry in analysis["labels"]]
    assert keys == sorted(keys)
    step = analysis["critical_step"]
    if step is not None:
        causes = {(e["critical_seq"], e["label"]): e["cause_seq"] for e in analysis["labels"] if not e["recovered"]}
        assert causes[step["observed_seq"], step["label"]] == step["seq"]


_CHILD = """
import json, sys
from api.detectors import analyze, canonical_json
sessions = json.loads(sys.stdin.read())
sys.stdout.write(json.dumps([canonical_json(analyze(events)) for events in sessions]))
"""


def test_another_process_with_another_hash_seed_produces_identical_bytes() -> None:
    sessions_ = [json.loads(path.read_text(encoding="utf-8"))["events"] for path in FIXTURES]
    sessions_.append(_every_label_session())
    expected = [_bytes(events) for events in sessions_]
    for seed in ("0", "1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        child = subprocess.run(
            [sys.executable, "-c", _CHILD],
            input=json.dumps(sessions_),
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            check=True,
            timeout=120,
        )
        assert json.loads(child.stdout) == expected


def _every_label_session() -> list[dict[str, Any]]:
    """One failing session that trips most rules, so the subprocess comparison covers them."""
    p: list[tuple[str, dict[str, Any]]] = [
        ("session.start", {"tools": [{"name": "search", "parameters": {"required": ["q"]}}, "python"]}),
        ("tool.call", {"tool": "python", "arguments": {"code": "1/0"}}),
        ("tool.result", {"tool": "python", "status": "ok", "exit_code": 1,
                         "output": "Traceback (most recent call last):\nZeroDivisionError: division by zero"}),
        ("llm.response", {"model": "m", "usage": {}, "content": ""}),
        ("llm.response", {"model": "m", "usage": {}, "error": {"status": 429, "message": "slow"}}),
        ("tool.call", {"tool": "search", "arguments": {"q": "x"}}),
        ("tool.result", {"tool": "search", "status": "error", "error": {"status": 401, "message": "bad key"}}),
        ("browser.navigation", {"url": "https://x", "status_code": 404}),
        ("browser.action", {"action": "click", "status": "ok", "screenshot_digest": "a"}),
        ("browser.action", {"action": "click", "status": "ok", "screenshot_digest": "a"}),
        ("browser.action", {"action": "click", "status": "ok", "screenshot_digest": "a"}),
        ("browser.action", {"action": "click", "status": "ok", "screenshot_digest": "a"}),
        ("assertion", {"passed": False, "expected": 1, "actual": 2}),
        ("error", {"type": "TimeoutError", "message": "deadline exceeded"}),
        ("error", {"message": "This model's maximum context length is 8192 tokens"}),
        ("tool.call", {"tool": "search", "arguments": "{bad"}),
        ("log", {"level": "error", "message": "Reached max steps."}),
        ("session.end", {"outcome": "failure", "reason": "max_steps"}),
    ]  # fmt: skip
    return [{"seq": seq, "type": kind, "payload": payload} for seq, (kind, payload) in enumerate(p)]


def test_every_label_session_trips_the_rules_it_is_meant_to() -> None:
    labels = {entry["label"] for entry in analyze(_every_label_session())["labels"]}
    assert labels >= {
        "malformed_tool_call", "code_execution_error", "rate_limited", "llm_error", "auth_error", "tool_error",
        "not_found", "navigation_error", "stalled", "loop", "assertion_failed", "empty_or_refused_response",
        "timeout", "context_overflow", "step_limit",
    }  # fmt: skip
