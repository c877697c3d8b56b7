"""assertion_failed: a recorded check that did not pass."""

from __future__ import annotations

from detector_events import Session


def test_failed_assertion_is_reported_with_expected_and_actual() -> None:
    s = Session()
    failed = s.check(False, expected=42, actual=41, message="answer is 42")
    s.end("failure")
    label = s.labels()["assertion_failed"]
    assert (label["critical_seq"], label["confidence"]) == (failed, 0.95)
    assert label["evidence"]["facts"]["expected"] == "42"
    assert label["evidence"]["facts"]["actual"] == "41"
    assert label["signature"]["message"] == "answer is 42"


def test_passing_assertion_is_not_reported() -> None:
    s = Session()
    s.check(True, expected=42, actual=42)
    s.end("success")
    assert s.labels() == {}


def test_same_check_passing_later_recovers() -> None:
    s = Session()
    s.check(False, message="file written")
    s.check(True, message="file written")
    s.end("failure", reason="other")
    assert "assertion_failed" not in s.labels()


def test_a_different_check_passing_does_not_recover() -> None:
    s = Session()
    failed = s.check(False, message="file written")
    s.check(True, message="tests pass")
    s.end("failure")
    assert s.labels()["assertion_failed"]["critical_seq"] == failed


def test_claimed_success_does_not_hide_a_failed_assertion() -> None:
    s = Session()
    s.check(False, expected="CDG", actual="ORY")
    s.end("success")
    assert "assertion_failed" in s.labels()


def test_passed_that_is_not_a_boolean_is_ignored() -> None:
    s = Session()
    s.check("false")  # type: ignore[arg-type]
    s.end("failure", reason="other")
    assert "assertion_failed" not in s.labels()
