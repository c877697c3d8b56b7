"""timeout: timeouts, deadlines and 504."""

from __future__ import annotations

from detector_events import Session


def test_timeout_exception_type_is_strong_evidence() -> None:
    s = Session()
    s.call("fetch")
    failed = s.fail("fetch", type="httpx.ReadTimeout", message="The read operation timed out")
    s.end("failure")
    label = s.labels()["timeout"]
    assert (label["critical_seq"], label["confidence"]) == (failed, 0.95)
    assert label["evidence"]["facts"]["basis"] == "error_type"


def test_coreutils_timeout_exit_code_124_is_medium_evidence() -> None:
    s = Session()
    s.call("bash", {"command": "timeout 60 pytest"})
    s.ok("bash", "", exit_code=124)
    s.end("failure")
    label = s.labels()["timeout"]
    assert label["confidence"] == 0.8
    assert label["evidence"]["facts"]["basis"] == "exit_code"


def test_playwright_timeout_message_is_at_least_medium() -> None:
    s = Session()
    s.act("click", selector="#submit", status="error", error={"message": "Timeout 30000ms exceeded."})
    s.end("failure")
    assert s.labels()["timeout"]["confidence"] >= 0.8


def test_timeout_then_successful_retry_is_recovered() -> None:
    s = Session()
    s.call("fetch")
    s.fail("fetch", type="TimeoutError", message="timed out")
    s.tool("fetch", output="<html>")
    s.end("failure", reason="wrong answer")
    assert "timeout" not in s.labels()


def test_timeout_word_in_ok_output_is_not_an_error() -> None:
    s = Session()
    s.call("bash", {"command": "cat config.yaml"})
    s.ok("bash", "timeout: 30\nretries: 3\n", exit_code=0)
    s.end("failure", reason="wrong answer")
    assert "timeout" not in s.labels()
