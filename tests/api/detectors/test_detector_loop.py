"""loop: the same action, or a short cycle, repeated without progress."""

from __future__ import annotations

import json

from detector_events import Session


def _repeat(s: Session, times: int, tool: str = "search", args: object = None, output: str = "no results") -> int:
    first = s.call(tool, {"q": "blue widget price"} if args is None else args)
    s.ok(tool, output)
    for _ in range(times - 1):
        s.call(tool, {"q": "blue widget price"} if args is None else args)
        s.ok(tool, output)
    return first


def test_same_call_with_same_result_three_times_is_a_loop_from_the_first_call() -> None:
    s = Session()
    s.answer("Let me search.")
    first = _repeat(s, 3)
    s.end("failure")
    analysis = s.analysis()
    label = {entry["label"]: entry for entry in analysis["labels"]}["loop"]
    assert (label["critical_seq"], label["confidence"]) == (first, 0.6)
    assert label["evidence"]["facts"]["pattern"] == ["search"]
    assert label["evidence"]["facts"]["cycles"] == 3
    assert analysis["critical_step"]["label"] == "loop"


def test_confidence_grows_with_the_number_of_repetitions() -> None:
    s = Session()
    _repeat(s, 6)
    s.end("failure")
    assert s.labels()["loop"]["confidence"] == 0.95


def test_two_step_cycle_is_a_loop_starting_at_its_first_action() -> None:
    s = Session()
    first = s.call("open_page", {"url": "a"})
    s.ok("open_page", "page a")
    for i in range(3):
        if i:
            s.call("open_page", {"url": "a"})
            s.ok("open_page", "page a")
        s.call("go_back")
        s.ok("go_back", "index")
    s.end("failure")
    label = s.labels()["loop"]
    assert label["critical_seq"] == first
    assert label["evidence"]["facts"]["pattern"] == ["open_page", "go_back"]


def test_repeated_action_with_differing_results_is_progress_not_a_loop() -> None:
    s = Session()
    for page in range(6):
        s.call("read_file", {"path": "big.log"})
        s.ok("read_file", f"lines {page * 100}..{page * 100 + 99}")
    s.end("failure", reason="wrong answer")
    assert "loop" not in s.labels()


def test_two_repetitions_are_not_yet_a_loop() -> None:
    s = Session()
    _repeat(s, 2)
    s.end("failure", reason="wrong answer")
    assert "loop" not in s.labels()


def test_argument_key_order_and_whitespace_do_not_make_actions_different() -> None:
    s = Session()
    first = s.call("search", json.dumps({"q": "blue  widget", "page": 1}))
    s.ok("search", "none")
    s.call("search", '{"page": 1, "q": "blue widget"}')
    s.ok("search", "none")
    s.call("search", {"page": 1, "q": " blue widget "})
    s.ok("search", "none")
    s.end("failure")
    assert s.labels()["loop"]["critical_seq"] == first


def test_loop_the_agent_broke_out_of_is_weak_and_not_the_critical_step() -> None:
    s = Session()
    _repeat(s, 3)
    s.call("fetch")
    failed = s.fail("fetch", type="ToolExecutionError", message="boom")
    s.end("failure")
    analysis = s.analysis()
    labels = {entry["label"]: entry for entry in analysis["labels"]}
    assert labels["loop"]["confidence"] == 0.6
    assert labels["loop"]["evidence"]["facts"]["ended"] is True
    assert analysis["critical_step"]["observed_seq"] == failed


def test_loop_in_a_session_claiming_success_is_reported_weak() -> None:
    s = Session()
    _repeat(s, 4)
    s.end("success")
    loop = s.labels()["loop"]
    assert loop["confidence"] == 0.6 and loop["recovered"] is False
    assert s.analysis()["verdict"] == "succeeded_with_errors"


def test_browser_actions_repeating_on_an_unchanged_page_loop() -> None:
    s = Session()
    first = s.act("click", selector="#next", status="ok", screenshot_digest="s1")
    s.act("click", selector="#next", status="ok", screenshot_digest="s1")
    s.act("click", selector="#next", status="ok", screenshot_digest="s1")
    s.end("failure")
    assert s.labels()["loop"]["critical_seq"] == first


def test_parallel_calls_are_paired_with_their_results_by_call_id() -> None:
    s = Session()
    first = None
    for _ in range(3):
        a = s.call("weather", {"city": "Paris"}, call_id=f"a{len(s.events)}")
        b = s.call("weather", {"city": "Rome"}, call_id=f"b{len(s.events)}")
        s.ok("weather", "rain", call_id=f"b{b}")
        s.ok("weather", "sun", call_id=f"a{a}")
        first = a if first is None else first
    s.end("failure")
    label = s.labels()["loop"]
    assert label["critical_seq"] == first
    assert label["evidence"]["facts"]["period"] == 2
