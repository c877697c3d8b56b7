"""navigation_error: pages that fail to load, elements that are missing."""

from __future__ import annotations

from detector_events import Session


def test_page_load_with_5xx_status_is_a_strong_navigation_error() -> None:
    s = Session()
    page = s.nav("https://shop.example.com", status_code=502)
    s.end("failure")
    label = s.labels()["navigation_error"]
    assert (label["critical_seq"], label["confidence"]) == (page, 0.95)
    assert label["evidence"]["facts"]["url"] == "https://shop.example.com"


def test_dns_failure_with_a_chromium_error_type_is_strong() -> None:
    s = Session()
    s.nav("https://nope.invalid", error={"type": "net::ERR_NAME_NOT_RESOLVED", "message": "name not resolved"})
    s.end("failure")
    assert s.labels()["navigation_error"]["confidence"] == 0.95


def test_missing_element_by_exception_type_is_strong() -> None:
    s = Session()
    s.act(
        "click", selector="#buy", status="error", error={"type": "NoSuchElementException", "message": "no such element"}
    )
    s.end("failure")
    assert s.labels()["navigation_error"]["evidence"]["facts"]["basis"] == "missing_element"


def test_other_failed_browser_actions_are_weak() -> None:
    s = Session()
    s.act("type", selector="#q", status="error", error={"message": "keyboard layout unsupported"})
    s.end("failure")
    assert s.labels()["navigation_error"]["confidence"] == 0.6


def test_404_followed_by_a_successful_navigation_is_handled() -> None:
    s = Session()
    s.nav("https://shop.example.com/p/1", status_code=404)
    s.nav("https://shop.example.com/search?q=1", status_code=200)
    s.end("failure", reason="wrong answer")
    labels = s.labels()
    assert "navigation_error" not in labels
    assert "not_found" not in labels


def test_missing_element_then_an_action_that_changes_the_page_is_handled() -> None:
    s = Session()
    s.act(
        "click",
        selector="index=31",
        status="error",
        error={"message": "Element with index 31 does not exist"},
        screenshot_digest="s1",
    )
    s.act("click", selector="index=14", status="ok", screenshot_digest="s2")
    s.end("failure", reason="wrong answer")
    assert "navigation_error" not in s.labels()


def test_ok_actions_that_leave_the_page_unchanged_do_not_handle_a_missing_element() -> None:
    s = Session()
    missing = s.act(
        "click",
        selector="index=31",
        status="error",
        error={"message": "Element with index 31 does not exist"},
        screenshot_digest="s1",
    )
    s.act("scroll_down", status="ok", screenshot_digest="s1")
    s.end("failure")
    assert s.labels()["navigation_error"]["critical_seq"] == missing
