"""server_error: 5xx and service unavailable (504 is timeout, 529 rate_limited)."""

from __future__ import annotations

from detector_events import Session


def test_503_from_a_tool_is_a_server_error() -> None:
    s = Session()
    s.call("book_flight")
    failed = s.fail("book_flight", code=503, message="Service Unavailable")
    s.end("failure")
    label = s.labels()["server_error"]
    assert (label["critical_seq"], label["confidence"]) == (failed, 0.95)


def test_internal_server_error_phrase_is_medium_evidence() -> None:
    s = Session()
    s.call("crm")
    s.fail("crm", message="Upstream said: Internal Server Error")
    s.end("failure")
    assert s.labels()["server_error"]["confidence"] == 0.8


def test_504_is_a_timeout_not_a_server_error() -> None:
    s = Session()
    s.call("crm")
    s.fail("crm", status=504, message="Gateway Timeout")
    s.end("failure")
    labels = s.labels()
    assert "server_error" not in labels
    assert labels["timeout"]["confidence"] == 0.95


def test_retried_500_is_recovered() -> None:
    s = Session()
    s.llm(usage={}, error={"type": "InternalServerError", "status": 500, "message": "The server had an error"})
    s.answer()
    s.end("failure", reason="wrong answer")
    assert "server_error" not in s.labels()
