"""empty_or_refused_response: empty content and no tool calls, or a refusal."""

from __future__ import annotations

from detector_events import Session


def test_empty_content_without_tool_calls_is_reported() -> None:
    s = Session()
    empty = s.llm(content="", finish_reason="stop")
    s.end("failure")
    label = s.labels()["empty_or_refused_response"]
    assert (label["critical_seq"], label["confidence"]) == (empty, 0.8)
    assert label["signature"]["error_type"] == "empty"


def test_refusal_field_is_strong_evidence() -> None:
    s = Session()
    s.llm(content=None, refusal="I'm sorry, I cannot assist with that request.")
    s.end("failure")
    label = s.labels()["empty_or_refused_response"]
    assert (label["signature"]["error_type"], label["confidence"]) == ("refusal", 0.95)


def test_refusal_phrase_in_content_is_weak_evidence() -> None:
    s = Session()
    s.llm(content="I'm sorry, but I can't help with that.")
    s.end("failure")
    assert s.labels()["empty_or_refused_response"]["confidence"] == 0.6


def test_null_content_with_tool_calls_is_a_normal_tool_calling_turn() -> None:
    s = Session()
    s.llm(content=None, tool_calls=[{"name": "search", "arguments": "{}"}], finish_reason="tool_calls")
    s.end("failure", reason="wrong answer")
    assert "empty_or_refused_response" not in s.labels()


def test_response_that_does_not_record_content_is_not_judged() -> None:
    s = Session()
    s.llm(finish_reason="stop")
    s.end("failure", reason="wrong answer")
    assert "empty_or_refused_response" not in s.labels()


def test_later_usable_response_recovers() -> None:
    s = Session()
    s.llm(content="   ")
    s.answer("Paris.")
    s.end("failure", reason="wrong answer")
    assert "empty_or_refused_response" not in s.labels()


def test_cant_find_is_not_a_refusal() -> None:
    s = Session()
    s.llm(content="I can't find the config file, let me search the repository.")
    s.end("failure", reason="wrong answer")
    assert "empty_or_refused_response" not in s.labels()


def test_anthropic_content_blocks_with_tool_use_are_not_empty() -> None:
    s = Session()
    s.llm(content=[{"type": "tool_use", "name": "search", "input": {}}])
    s.end("failure", reason="wrong answer")
    assert "empty_or_refused_response" not in s.labels()
