"""llm_error: a failed model call with no later successful one."""

from __future__ import annotations

from detector_events import Session


def test_failed_model_call_with_a_type_is_strong_evidence() -> None:
    s = Session()
    s.add("llm.request", {"model": "gpt-4o"})
    failed = s.llm(usage={}, error={"type": "APIConnectionError", "message": "Connection error."})
    s.end("error")
    label = s.labels()["llm_error"]
    assert (label["critical_seq"], label["confidence"]) == (failed, 0.95)
    assert label["signature"]["error_type"] == "APIConnectionError"


def test_failed_model_call_with_only_a_message_is_medium_evidence() -> None:
    s = Session()
    s.llm(usage={}, error="model returned garbage")
    s.end("error")
    assert s.labels()["llm_error"]["confidence"] == 0.8


def test_error_event_under_an_llm_request_is_an_llm_error() -> None:
    s = Session()
    request = s.add("llm.request", {"model": "claude-sonnet-4"})
    err = s.error("upstream connect error", parent_seq=request, type="APIError")
    s.end("error")
    assert s.labels()["llm_error"]["critical_seq"] == err


def test_later_successful_model_call_recovers() -> None:
    s = Session()
    s.llm(usage={}, error={"type": "APIConnectionError", "message": "Connection error."})
    s.answer()
    s.end("failure", reason="wrong answer")
    assert "llm_error" not in s.labels()


def test_tool_errors_are_not_llm_errors() -> None:
    s = Session()
    s.call("search")
    s.fail("search", type="ToolExecutionError", message="x")
    s.end("failure")
    assert "llm_error" not in s.labels()
