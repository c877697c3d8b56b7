"""rate_limited: 429, "rate limit", "overloaded" — unless the retry got through."""

from __future__ import annotations

from detector_events import Session


def _failed_llm_call(s: Session, **error: object) -> int:
    s.add("llm.request", {"model": "gpt-4o"})
    return s.llm(usage={}, error=error)


def test_unrecovered_429_is_rate_limited_with_strong_confidence() -> None:
    s = Session()
    limited = _failed_llm_call(s, type="RateLimitError", status=429, message="Rate limit reached for gpt-4o")
    s.end("error")
    label = s.labels()["rate_limited"]
    assert (label["critical_seq"], label["confidence"]) == (limited, 0.95)
    assert label["evidence"]["facts"]["basis"] == "status"


def test_retry_that_succeeds_recovers_the_429() -> None:
    s = Session()
    _failed_llm_call(s, type="RateLimitError", status=429, message="Rate limit reached")
    s.answer()
    s.end("failure", reason="wrong answer")
    labels = s.labels()
    assert "rate_limited" not in labels
    assert "llm_error" not in labels


def test_429_written_in_a_tool_error_message_is_medium_confidence() -> None:
    s = Session()
    s.call("github")
    s.fail("github", message="Error code: 429 - {'message': 'API rate limit exceeded'}")
    s.end("failure")
    label = s.labels()["rate_limited"]
    assert label["confidence"] == 0.8
    assert label["evidence"]["facts"]["basis"] == "phrase"


def test_rate_limit_keyword_alone_is_weak_evidence() -> None:
    s = Session()
    s.call("scraper")
    s.fail("scraper", message="The site throttled us, please slow down")
    s.end("failure")
    assert s.labels()["rate_limited"]["confidence"] == 0.6


def test_anthropic_overloaded_529_is_rate_limited_not_server_error() -> None:
    s = Session()
    _failed_llm_call(s, type="overloaded_error", status=529, message="Overloaded")
    s.end("error")
    labels = s.labels()
    assert labels["rate_limited"]["confidence"] == 0.95
    assert "server_error" not in labels


def test_a_number_429_that_is_not_a_status_is_not_a_rate_limit() -> None:
    s = Session()
    s.call("etl")
    s.fail("etl", message="processed 429 rows before the disk filled up")
    s.end("failure")
    assert "rate_limited" not in s.labels()


def test_claimed_success_does_not_clear_an_unretried_rate_limit() -> None:
    s = Session()
    s.call("github")
    limited = s.fail("github", status=429, message="Too Many Requests")
    s.end("success")
    assert s.labels()["rate_limited"]["critical_seq"] == limited
    assert s.analysis()["verdict"] == "succeeded_with_errors"
