"""Failures that arrive inside ok results: error pages, error strings, executors' exit statuses."""

from __future__ import annotations

from detector_events import Session


def _labels_of_ok_output(output: str) -> dict[str, dict[str, object]]:
    s = Session()
    s.call("visit_webpage")
    s.ok("visit_webpage", output)
    s.end("success")
    return s.labels()


def test_requests_error_string_in_ok_output_is_a_tool_error_and_its_cause() -> None:
    labels = _labels_of_ok_output("Error fetching the webpage: 403 Client Error: Forbidden for url: https://x.org/a")
    assert labels["tool_error"]["confidence"] == 0.8
    assert labels["auth_error"]["confidence"] == 0.8
    assert labels["tool_error"]["evidence"]["facts"]["inline"] == "error_text"


def test_smolagents_execution_logs_header_is_skipped_to_find_the_error_line() -> None:
    labels = _labels_of_ok_output("Execution logs:\nError fetching the webpage: 404 Client Error: Not Found for url: "
                                  "https://x.org/missing\nLast output from code snippet:\nNone")
    assert set(labels) == {"tool_error", "not_found"}


def test_error_page_title_as_content_is_a_navigation_error() -> None:
    labels = _labels_of_ok_output("Just a moment...\n\nEnable JavaScript and cookies to continue")
    assert labels["navigation_error"]["evidence"]["facts"]["basis"] == "error_page"


def test_search_results_that_list_error_pages_are_not_an_error_page() -> None:
    output = "## Search Results\n0. [HTTP 404 explained](https://x.org/404)\n1. [Access Denied fixes](https://y.org)"
    assert _labels_of_ok_output(output) == {}


def test_langgraph_tool_node_error_text_with_ok_status_is_a_tool_error() -> None:
    assert "tool_error" in _labels_of_ok_output("Error: ValueError('City not found: Atlantis')\n Please fix your mistakes.")


def test_web_agent_report_of_a_bot_check_is_caused_by_that_turn() -> None:
    s = Session()
    s.llm(content="Please open the repository page.", name="Orchestrator (-> WebSurfer)")
    turn = s.llm(content="I clicked 'Stars'.\n\nHere is a screenshot of [Just a moment...](https://github.com/x). "
                         "The viewport shows 100% of the webpage.", name="WebSurfer")
    s.llm(content="Here is a screenshot of [x/x: stars](https://github.com/x). The viewport shows 30% of the webpage.",
          name="WebSurfer")
    s.end("success")
    (finding,) = s.analysis()["labels"]
    assert (finding["label"], finding["critical_seq"], finding["cause_seq"]) == ("navigation_error", turn, turn)
    assert finding["recovered"] is True


def test_orchestrator_mentioning_error_pages_is_not_a_page_report() -> None:
    s = Session()
    s.llm(content="If the page says Access Denied or 404 Not Found, try another source.", name="Orchestrator (thought)")
    s.end("success")
    assert s.analysis()["labels"] == []


def test_magentic_one_terminal_exit_status_is_read_from_its_output() -> None:
    s = Session()
    coder = s.llm(content="```python\nraise SystemExit(3)\n```", name="Assistant")
    s.add("tool.result", {"tool": "ComputerTerminal", "status": "ok", "output":
          "The script ran, then exited with an error (POSIX exit code: 3)\nIts output was:\n"}, name="ComputerTerminal")
    s.end("failure")
    finding = s.labels()["code_execution_error"]
    assert finding["evidence"]["facts"]["exit_code"] == 3 and finding["cause_seq"] == coder


def test_a_final_answer_does_not_recover_the_error_before_it() -> None:
    s = Session()
    s.call("python_interpreter", {"code": "1/0"}, call_id="a")
    s.add("tool.result", {"tool": "python_interpreter", "call_id": "a", "status": "error",
                          "error": {"type": "AgentExecutionError", "message": "Code execution failed at line '1/0' "
                                                                              "due to: ZeroDivisionError: division by zero"}})
    s.call("python_interpreter", {"code": 'final_answer("0")'}, call_id="b")
    s.add("tool.result", {"tool": "python_interpreter", "call_id": "b", "status": "ok", "output": "0"})
    s.end("success")
    analysis = s.analysis()
    assert {e["label"] for e in analysis["labels"] if not e["recovered"]} == {"code_execution_error", "tool_error"}
    assert analysis["verdict"] == "succeeded_with_errors"


def test_code_quoting_error_pages_or_parse_errors_is_not_a_failure() -> None:
    grep = ("auth/views.py:12:    raise PermissionDenied('Access denied')\n"
            "agents/output.py:40:    raise OutputParserException(f'Could not parse LLM output: {text}')")
    assert _labels_of_ok_output(grep) == {}
    assert _labels_of_ok_output("   1\tdef not_found(request):  # 404 Not Found handler\n   2\t    ...") == {}


def test_text_browser_page_titled_as_an_error_is_a_navigation_error() -> None:
    labels = _labels_of_ok_output("Address: https://en.wikipedia.org/wiki/Nope\nTitle: Error 404\nViewport position: "
                                  "Showing page 1 of 1.\n=======================\n## Error 404\n\nFile not found")
    assert set(labels) == {"navigation_error", "not_found"}
