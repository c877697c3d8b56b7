"""The critical step: the cause of the first unrecovered finding the failure follows from."""

from __future__ import annotations

from detector_events import Session


def test_recovered_error_before_the_real_one_is_not_the_critical_step() -> None:
    s = Session()
    s.llm(content="searching", tool_calls=[{"name": "search", "arguments": "{}"}])
    s.call("search")
    flaky = s.fail("search", type="ToolExecutionError", message="flaky")
    s.tool("search")
    decided = s.llm(content="paying", tool_calls=[{"name": "checkout", "arguments": "{}"}])
    s.call("checkout")
    real = s.fail("checkout", type="PaymentDeclined", message="card declined")
    s.end("failure")
    analysis = s.analysis()
    assert analysis["critical_step"] == {
        "seq": decided, "observed_seq": real, "label": "tool_error", "reason": analysis["critical_step"]["reason"],
    }  # fmt: skip
    assert [(e["critical_seq"], e["recovered"]) for e in analysis["labels"]] == [(flaky, True), (real, False)]


def test_recovered_429_then_unrecovered_401_makes_auth_the_critical_step() -> None:
    s = Session()
    s.llm(usage={}, error={"type": "RateLimitError", "status": 429, "message": "slow down"})
    s.answer()
    s.call("crm")
    denied = s.fail("crm", status=401, message="Unauthorized")
    s.end("failure")
    step = s.analysis()["critical_step"]
    assert (step["observed_seq"], step["label"]) == (denied, "auth_error")
    assert "401" in step["reason"]


def test_earliest_unrecovered_finding_wins_over_later_ones() -> None:
    s = Session()
    s.call("search")
    first = s.fail("search", message="503 Service Unavailable")
    s.call("fetch")
    s.fail("fetch", type="TimeoutError", message="timed out")
    s.end("failure")
    assert s.analysis()["critical_step"]["observed_seq"] == first


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


def test_coder_turn_is_the_cause_when_the_terminal_reports_its_failure() -> None:
    s = Session()
    s.add("llm.request", {"model": "task", "messages": [{"role": "user", "content": "Plot the data"}]}, name="human")
    s.llm(content="Plan: the coder writes a script.", name="Orchestrator (thought)")
    s.llm(content="Please write the script.", name="Orchestrator (-> Coder)")
    coder = s.llm(content="```python\nimport pandas as pd\npd.read_csv('data.csv')\n```", name="Coder")
    s.llm(content="Please run it.", name="Orchestrator (-> ComputerTerminal)")
    terminal = s.add(
        "tool.result",
        {"tool": "ComputerTerminal", "status": "ok", "output": "exitcode: 1 (execution failed)\nCode output: "
         "Traceback (most recent call last):\n  File \"tmp.py\", line 2\nFileNotFoundError: data.csv"},
        name="ComputerTerminal",
    )  # fmt: skip
    s.end("failure")
    analysis = s.analysis()
    errors = {e["label"]: e for e in analysis["labels"]}
    assert errors["code_execution_error"]["critical_seq"] == terminal
    assert errors["code_execution_error"]["cause_seq"] == coder
    assert analysis["critical_step"]["seq"] == coder


def test_executor_recorded_as_an_agent_turn_is_attributed_the_same_way() -> None:
    s = Session()
    coder = s.llm(content="```sh\nls /missing\n```", name="Assistant")
    s.llm(content="exitcode: 2 (execution failed)\nCode output: ls: cannot access '/missing'", name="ComputerTerminal")
    s.llm(content="The directory is empty, so the answer is 0.", name="Assistant")
    s.end("success")
    analysis = s.analysis()
    (finding,) = analysis["labels"]
    assert (finding["label"], finding["cause_seq"], finding["recovered"]) == ("code_execution_error", coder, False)
    assert analysis["verdict"] == "succeeded_with_errors"


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
