"""step_limit: max steps, iterations, turns or recursion limit reached."""

from __future__ import annotations

from detector_events import Session


def test_session_end_reason_max_steps_is_strong_evidence() -> None:
    s = Session()
    s.answer()
    end = s.end("failure", reason="max_steps_reached")
    label = s.labels()["step_limit"]
    assert (label["critical_seq"], label["confidence"]) == (end, 0.95)


def test_langgraph_recursion_limit_error_event_is_a_step_limit() -> None:
    s = Session()
    err = s.error("Recursion limit of 25 reached without hitting a stop condition.", type="GraphRecursionError")
    s.end("error")
    assert s.labels()["step_limit"]["critical_seq"] == err


def test_openai_agents_max_turns_message_is_medium_evidence() -> None:
    s = Session()
    s.end("failure", error={"message": "Max turns (10) exceeded"})
    assert s.labels()["step_limit"]["confidence"] == 0.8


def test_smolagents_log_line_is_weak_evidence() -> None:
    s = Session()
    log = s.log("Reached max steps.", level="error")
    s.end("failure")
    label = s.labels()["step_limit"]
    assert (label["critical_seq"], label["confidence"]) == (log, 0.6)


def test_python_recursion_error_is_not_a_step_limit() -> None:
    s = Session()
    s.error("maximum recursion depth exceeded while calling a Python object", type="RecursionError")
    s.end("error")
    assert "step_limit" not in s.labels()


def test_configuration_log_mentioning_max_steps_is_not_a_step_limit() -> None:
    s = Session()
    s.log("starting agent with max_steps=20")
    s.end("failure", reason="wrong answer")
    assert "step_limit" not in s.labels()


def test_step_limit_in_a_session_claiming_success_is_still_reported() -> None:
    s = Session()
    s.answer("Final answer: 42")
    logged = s.log("Reached max steps.", level="error")
    s.end("success")
    assert s.labels()["step_limit"]["critical_seq"] == logged
    assert s.analysis()["verdict"] == "succeeded_with_errors"
