"""unexplained_failure: a failed session no other rule explains."""

from __future__ import annotations

from detector_events import Session


def test_failure_without_any_finding_points_at_the_last_step_before_the_end() -> None:
    s = Session()
    s.start()
    s.tool("search", output="3 results")
    last = s.answer("The answer is 7.")
    s.log("done")
    s.end("failure", reason="the answer was wrong")
    analysis = s.analysis()
    assert [entry["label"] for entry in analysis["labels"]] == ["unexplained_failure"]
    label = analysis["labels"][0]
    assert (label["critical_seq"], label["confidence"]) == (last, 0.8)
    assert label["signature"]["message"] == "the answer was wrong"
    assert analysis["critical_step"]["seq"] == last


def test_failure_without_a_stated_cause_is_weak() -> None:
    s = Session()
    s.answer()
    s.end("error")
    assert s.labels()["unexplained_failure"]["confidence"] == 0.6


def test_explained_failure_is_not_unexplained() -> None:
    s = Session()
    s.call("search")
    s.fail("search", type="ToolExecutionError", message="boom")
    s.end("failure")
    assert "unexplained_failure" not in s.labels()


def test_recovered_errors_do_not_explain_a_failure_but_name_its_cause() -> None:
    s = Session()
    s.answer("Plan: search twice.")
    decided = s.llm(content="", tool_calls=[{"name": "search", "arguments": "{}"}])
    s.call("search")
    s.fail("search", type="ToolExecutionError", message="boom")
    last = s.tool("search")
    s.end("failure")
    label = s.labels()["unexplained_failure"]
    assert (label["critical_seq"], label["cause_seq"]) == (last, decided)
    assert s.analysis()["critical_step"]["seq"] == decided


def test_failure_with_nothing_wrong_is_caused_by_the_first_decision() -> None:
    s = Session()
    s.add("llm.request", {"model": "m", "messages": []})
    plan = s.answer("Plan: use the 2012 table.")
    s.tool("search")
    s.answer("The answer is 46.")
    s.end("failure", reason="wrong answer")
    assert s.labels()["unexplained_failure"]["cause_seq"] == plan


def test_session_with_no_steps_points_at_session_end() -> None:
    s = Session()
    s.start()
    end = s.end("error")
    assert s.labels()["unexplained_failure"]["critical_seq"] == end


def test_success_cancelled_and_unfinished_sessions_are_not_failures() -> None:
    for outcome in ("success", "cancelled"):
        s = Session()
        s.answer()
        s.end(outcome)
        assert s.labels() == {}
    s = Session()
    s.answer()
    assert s.labels() == {}
