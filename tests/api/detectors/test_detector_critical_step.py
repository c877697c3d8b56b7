"""The critical step: the first unrecovered finding the failure follows from."""

from __future__ import annotations

from detector_events import Session


def test_recovered_error_before_the_real_one_is_not_the_critical_step() -> None:
    s = Session()
    s.call("search")
    s.fail("search", type="ToolExecutionError", message="flaky")
    s.tool("search")
    s.call("checkout")
    real = s.fail("checkout", type="PaymentDeclined", message="card declined")
    s.end("failure")
    analysis = s.analysis()
    assert analysis["critical_step"]["seq"] == real
    assert analysis["critical_step"]["label"] == "tool_error"
    assert [entry["critical_seq"] for entry in analysis["labels"]] == [real]


def test_recovered_429_then_unrecovered_401_makes_auth_the_critical_step() -> None:
    s = Session()
    s.llm(usage={}, error={"type": "RateLimitError", "status": 429, "message": "slow down"})
    s.answer()
    s.call("crm")
    denied = s.fail("crm", status=401, message="Unauthorized")
    s.end("failure")
    step = s.analysis()["critical_step"]
    assert (step["seq"], step["label"]) == (denied, "auth_error")
    assert "401" in step["reason"]


def test_earliest_unrecovered_finding_wins_over_later_ones() -> None:
    s = Session()
    s.call("search")
    first = s.fail("search", message="503 Service Unavailable")
    s.call("fetch")
    s.fail("fetch", type="TimeoutError", message="timed out")
    s.end("failure")
    assert s.analysis()["critical_step"]["seq"] == first


def test_at_the_same_seq_the_specific_cause_names_the_step() -> None:
    s = Session()
    limited = s.llm(usage={}, error={"type": "RateLimitError", "status": 429, "message": "slow down"})
    s.end("error")
    analysis = s.analysis()
    assert {entry["label"] for entry in analysis["labels"]} == {"rate_limited", "llm_error"}
    assert analysis["critical_step"]["seq"] == limited
    assert analysis["critical_step"]["label"] == "rate_limited"


def test_loop_still_running_precedes_the_step_limit_it_caused() -> None:
    s = Session()
    first = s.call("search", {"q": "x"})
    s.ok("search", "nothing")
    for _ in range(4):
        s.call("search", {"q": "x"})
        s.ok("search", "nothing")
    s.end("failure", reason="max_iterations")
    step = s.analysis()["critical_step"]
    assert (step["seq"], step["label"]) == (first, "loop")


def test_clean_successful_session_has_no_critical_step() -> None:
    s = Session()
    s.tool("search")
    s.answer()
    s.end("success")
    analysis = s.analysis()
    assert analysis["labels"] == []
    assert analysis["critical_step"] is None


def test_labels_are_sorted_by_critical_seq_then_label() -> None:
    s = Session()
    s.check(False, message="first check")
    s.call("crm")
    s.fail("crm", status=503, message="Service Unavailable")
    s.end("failure")
    keys = [(entry["critical_seq"], entry["label"]) for entry in s.analysis()["labels"]]
    assert keys == sorted(keys)
    assert keys == [(0, "assertion_failed"), (2, "server_error"), (2, "tool_error")]
