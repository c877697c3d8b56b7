"""tool_error: a tool result with an error the agent never recovers from."""

from __future__ import annotations

from detector_events import Session


def test_unrecovered_tool_error_is_reported_at_the_failing_result() -> None:
    s = Session()
    s.start()
    s.call("search", {"q": "weather"})
    failed = s.fail("search", type="ToolExecutionError", message="backend exploded")
    s.answer("Sorry, search is broken.")
    s.end("failure")
    label = s.labels()["tool_error"]
    assert label["critical_seq"] == failed
    assert label["confidence"] == 0.95
    assert label["signature"] == {
        "label": "tool_error",
        "tool": "search",
        "error_type": "ToolExecutionError",
        "message": "backend exploded",
    }
    assert label["evidence"]["seqs"] == [failed]


def test_tool_error_with_only_a_message_is_medium_confidence() -> None:
    s = Session()
    s.call("search")
    s.fail("search", message="something went wrong")
    s.end("failure")
    assert s.labels()["tool_error"]["confidence"] == 0.8


def test_later_ok_result_of_the_same_tool_recovers_the_error() -> None:
    s = Session()
    s.call("search")
    s.fail("search", type="ToolExecutionError", message="flaky")
    s.tool("search", {"q": "again"}, output="3 results")
    s.end("failure", reason="gave up")
    assert "tool_error" not in s.labels()


def test_successful_session_recovers_every_tool_error() -> None:
    s = Session()
    s.call("search")
    s.fail("search", type="ToolExecutionError", message="flaky")
    s.end("success")
    assert s.analysis()["labels"] == []


def test_ok_result_of_another_tool_does_not_recover_the_error() -> None:
    s = Session()
    s.call("search")
    failed = s.fail("search", type="ToolExecutionError", message="flaky")
    s.tool("calculator", {"expr": "1+1"}, output="2")
    s.end("failure")
    assert s.labels()["tool_error"]["critical_seq"] == failed


def test_ok_status_result_with_a_traceback_is_not_a_recovery() -> None:
    s = Session()
    s.call("python")
    failed = s.fail("python", type="SandboxError", message="sandbox crashed")
    s.call("python", {"code": "1/0"})
    s.ok("python", 'Traceback (most recent call last):\n  File "<stdin>", line 1\nZeroDivisionError: division by zero')
    s.end("failure")
    assert s.labels()["tool_error"]["critical_seq"] == failed


def test_error_after_a_recovery_is_the_one_reported() -> None:
    s = Session()
    s.call("search")
    s.fail("search", type="ToolExecutionError", message="first")
    s.tool("search")
    s.call("search")
    second = s.fail("search", type="ToolExecutionError", message="second")
    s.end("failure")
    label = s.labels()["tool_error"]
    assert label["critical_seq"] == second
    assert label["signature"]["message"] == "second"


def test_error_event_whose_parent_is_a_tool_call_counts_for_that_tool() -> None:
    s = Session()
    call = s.call("fetch", {"url": "https://example.com"})
    err = s.error("connection reset by peer", parent_seq=call, type="ConnectionResetError")
    s.end("error")
    label = s.labels()["tool_error"]
    assert label["critical_seq"] == err
    assert label["signature"]["tool"] == "fetch"


def test_unlinked_error_event_is_not_a_tool_error() -> None:
    s = Session()
    s.error("agent crashed", type="RuntimeError")
    s.end("error")
    assert "tool_error" not in s.labels()
