"""not_found: 404, missing files or resources — unless the agent handles it."""

from __future__ import annotations

from detector_events import Session


def test_unhandled_404_from_a_tool_is_not_found() -> None:
    s = Session()
    s.call("http_get", {"url": "https://api.example.com/users/42"})
    failed = s.fail("http_get", status=404, message="Not Found")
    s.end("failure")
    label = s.labels()["not_found"]
    assert (label["critical_seq"], label["confidence"]) == (failed, 0.95)


def test_missing_file_message_from_a_shell_command_is_medium_evidence() -> None:
    s = Session()
    s.call("bash", {"command": "cat notes.txt"})
    s.ok("bash", "cat: notes.txt: No such file or directory", exit_code=1)
    s.end("failure")
    label = s.labels()["not_found"]
    assert label["confidence"] == 0.8
    assert label["evidence"]["facts"]["matched"] == "No such file or directory"


def test_404_the_agent_handles_is_not_reported() -> None:
    s = Session()
    s.call("http_get", {"url": "https://api.example.com/users/42"})
    s.fail("http_get", status=404, message="Not Found")
    s.tool("http_get", {"url": "https://api.example.com/users?name=ada"}, output=[{"id": 7}])
    s.end("failure", reason="wrong answer")
    assert "not_found" not in s.labels()


def test_missing_browser_element_is_navigation_error_not_not_found() -> None:
    s = Session()
    s.act("click", selector="#buy", status="error", error={"message": "Element #buy not found"})
    s.end("failure")
    labels = s.labels()
    assert "not_found" not in labels
    assert "navigation_error" in labels


def test_unrecovered_page_404_is_both_not_found_and_navigation_error() -> None:
    s = Session()
    page = s.nav("https://shop.example.com/p/999", status_code=404)
    s.end("failure")
    labels = s.labels()
    assert labels["not_found"]["critical_seq"] == page
    assert labels["navigation_error"]["critical_seq"] == page


def test_error_event_under_a_browser_action_is_not_a_missing_resource() -> None:
    s = Session()
    click = s.act("click", selector="#buy", status="ok")
    s.error("Element #buy not found", parent_seq=click)
    s.end("failure")
    labels = s.labels()
    assert "not_found" not in labels
    assert labels["navigation_error"]["evidence"]["facts"]["source"] == "error"
