"""The shape of an analysis, its digest and its canonical serialisation."""

from __future__ import annotations

import hashlib
import json
import re

from detector_events import Session

from api.detectors import LABELS, SUITE_VERSION, analyze, canonical_json


def _session_with_findings() -> Session:
    s = Session()
    s.start(["search"])
    s.call("search", {"q": "x"})
    s.fail("search", status=429, message="Too Many Requests")
    s.end("failure")
    return s


def test_analysis_has_exactly_the_documented_keys() -> None:
    analysis = _session_with_findings().analysis()
    assert set(analysis) == {"detector_version", "input_digest", "labels", "critical_step", "verdict"}
    assert analysis["detector_version"] == SUITE_VERSION
    assert re.fullmatch(r"\d{4}\.\d{1,2}\.\d+", SUITE_VERSION)
    assert set(analysis["critical_step"]) == {"seq", "observed_seq", "label", "reason"}
    assert analysis["verdict"] == "failed"
    for entry in analysis["labels"]:
        assert set(entry) == {
            "label", "confidence", "critical_seq", "cause_seq", "recovered", "recovered_by_seq", "occurrences",
            "evidence", "signature",
        }  # fmt: skip
        assert set(entry["evidence"]) == {"seqs", "facts"}
        assert set(entry["signature"]) == {"label", "tool", "error_type", "message"}
        assert entry["signature"]["label"] == entry["label"]
        assert entry["label"] in LABELS
        assert 0 <= entry["confidence"] <= 1
        assert round(entry["confidence"], 2) == entry["confidence"]
        assert entry["critical_seq"] in entry["evidence"]["seqs"]


def test_suite_knows_every_label_of_the_spec() -> None:
    assert set(LABELS) == {
        "tool_error", "code_execution_error", "rate_limited", "auth_error", "not_found", "server_error",
        "timeout", "loop", "step_limit", "context_overflow", "malformed_tool_call", "llm_error",
        "empty_or_refused_response", "assertion_failed", "navigation_error", "stalled", "unexplained_failure",
        "malformed_output",
    }  # fmt: skip


def test_input_digest_is_sha256_of_the_canonical_restricted_event_list() -> None:
    events = _session_with_findings().events
    restricted = [{k: e.get(k) for k in ("seq", "type", "name", "payload", "parent_seq")} for e in events]
    expected = hashlib.sha256(canonical_json(restricted).encode("utf-8")).hexdigest()
    assert analyze(events)["input_digest"] == expected


def test_input_digest_changes_with_the_payload_but_not_with_storage_fields() -> None:
    events = _session_with_findings().events
    digest = analyze(events)["input_digest"]
    stamped = [
        {**e, "ts": "2030-01-01T00:00:00Z", "received_at": 1, "position": 9, "idempotency_key": "k"} for e in events
    ]
    assert analyze(stamped)["input_digest"] == digest
    edited = [dict(e) for e in events]
    edited[2] = {**edited[2], "payload": {**edited[2]["payload"], "status": "ok"}}
    assert analyze(edited)["input_digest"] != digest


def test_empty_session_has_no_labels_and_the_digest_of_an_empty_list() -> None:
    analysis = analyze([])
    assert analysis["labels"] == [] and analysis["critical_step"] is None
    assert analysis["input_digest"] == hashlib.sha256(b"[]").hexdigest()


def test_canonical_json_sorts_keys_compacts_and_keeps_unicode() -> None:
    assert canonical_json({"b": 1, "a": [1, {"d": "é", "c": None}]}) == '{"a":[1,{"c":null,"d":"é"}],"b":1}'
    assert json.loads(canonical_json(_session_with_findings().analysis()))["detector_version"] == SUITE_VERSION


def test_long_messages_are_bounded_in_the_signature() -> None:
    s = Session()
    s.call("search")
    s.fail("search", type="ToolExecutionError", message="x" * 100_000)
    s.end("failure")
    assert len(s.labels()["tool_error"]["signature"]["message"]) <= 500
