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


def test_claimed_success_after_an_unrecovered_tool_error_is_succeeded_with_errors() -> None:
    s = Session()
    decision = s.llm(content="", tool_calls=[{"name": "search", "arguments": "{}"}])
    s.call("search")
    failed = s.fail("search", type="ToolExecutionError", message="flaky")
    s.answer("The answer is 7.")
    s.end("success")
    analysis = s.analysis()
    (finding,) = analysis["labels"]
    assert (finding["label"], finding["critical_seq"], finding["recovered"]) == ("tool_error", failed, False)
    assert finding["cause_seq"] == decision
    assert analysis["verdict"] == "succeeded_with_errors"
    assert analysis["critical_step"]["seq"] == decision


def test_recovered_tool_error_is_reported_recovered_with_its_recovering_seq() -> None:
    s = Session()
    s.call("search")
    failed = s.fail("search", type="ToolExecutionError", message="flaky")
    s.call("search")
    clean = s.ok("search", "3 results")
    s.end("success")
    analysis = s.analysis()
    (finding,) = analysis["labels"]
    assert (finding["critical_seq"], finding["recovered"], finding["recovered_by_seq"]) == (failed, True, clean)
    assert analysis["verdict"] == "succeeded" and analysis["critical_step"] is None


def test_the_same_failure_repeated_is_one_finding_with_its_occurrences() -> None:
    s = Session()
    seqs = []
    for _ in range(3):
        s.call("fetch", {"url": "https://example.com"})
        seqs.append(s.fail("fetch", type="ConnectionError", message="connection reset after 30 s"))
    s.end("failure")
    (finding,) = [e for e in s.analysis()["labels"] if e["label"] == "tool_error"]
    assert finding["occurrences"] == 3 and finding["critical_seq"] == seqs[0]
    assert finding["evidence"]["seqs"] == seqs


def test_distinct_failures_of_one_label_keep_distinct_locations() -> None:
    s = Session()
    s.call("search")
    first = s.fail("search", type="ToolExecutionError", message="index offline")
    s.call("fetch")
    second = s.fail("fetch", type="ConnectionError", message="connection refused")
    s.end("failure")
    found = [(e["label"], e["critical_seq"]) for e in s.analysis()["labels"]]
    assert found == [("tool_error", first), ("tool_error", second)]


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
