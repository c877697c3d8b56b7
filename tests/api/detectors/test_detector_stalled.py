"""stalled: screenshot / DOM digest unchanged across several browser actions."""

from __future__ import annotations

from detector_events import Session


def _unchanged(s: Session, count: int, digest: str = "same") -> list[int]:
    return [s.act("click", selector=f"#b{i}", status="ok", screenshot_digest=digest) for i in range(count)]


def test_three_actions_that_change_nothing_are_a_stall_from_the_first_of_them() -> None:
    s = Session()
    s.nav("https://example.com")
    s.act("click", status="ok", screenshot_digest="same")
    seqs = _unchanged(s, 3)
    s.end("failure")
    label = s.labels()["stalled"]
    assert (label["critical_seq"], label["confidence"]) == (seqs[0], 0.6)
    assert label["evidence"]["seqs"] == seqs


def test_longer_stall_has_higher_confidence() -> None:
    s = Session()
    s.act("click", status="ok", screenshot_digest="same")
    _unchanged(s, 8)
    s.end("failure")
    assert s.labels()["stalled"]["confidence"] == 0.95


def test_two_unchanged_actions_are_not_a_stall() -> None:
    s = Session()
    s.act("click", status="ok", screenshot_digest="same")
    _unchanged(s, 2)
    s.end("failure", reason="x")
    assert "stalled" not in s.labels()


def test_changing_page_is_not_a_stall() -> None:
    s = Session()
    for i in range(6):
        s.act("click", status="ok", screenshot_digest=f"d{i}")
    s.end("failure", reason="x")
    assert "stalled" not in s.labels()


def test_dom_change_under_an_identical_screenshot_is_progress() -> None:
    s = Session()
    for i in range(5):
        s.act("type", status="ok", screenshot_digest="same", dom_digest=f"dom{i}")
    s.end("failure", reason="x")
    assert "stalled" not in s.labels()


def test_navigation_breaks_a_run_of_unchanged_actions() -> None:
    s = Session()
    s.act("click", status="ok", screenshot_digest="same")
    _unchanged(s, 2)
    s.nav("https://example.com/next")
    _unchanged(s, 2)
    s.end("failure", reason="x")
    assert "stalled" not in s.labels()


def test_actions_without_digests_neither_extend_nor_break_a_run() -> None:
    s = Session()
    s.act("click", status="ok", screenshot_digest="same")
    first = s.act("click", status="ok", screenshot_digest="same")
    s.act("hover", status="ok")
    s.act("click", status="ok", screenshot_digest="same")
    s.act("click", status="ok", screenshot_digest="same")
    s.end("failure")
    label = s.labels()["stalled"]
    assert label["critical_seq"] == first
    assert label["evidence"]["facts"]["unchanged_actions"] == 3


def test_stall_the_page_came_out_of_is_weak_and_not_decisive() -> None:
    s = Session()
    s.act("click", status="ok", screenshot_digest="same")
    _unchanged(s, 6)
    s.act("click", status="ok", screenshot_digest="new")
    s.end("failure", reason="x")
    analysis = s.analysis()
    labels = {entry["label"]: entry for entry in analysis["labels"]}
    assert labels["stalled"]["confidence"] == 0.6
    assert labels["stalled"]["evidence"]["facts"]["ended"] is True
    assert analysis["critical_step"]["label"] == "unexplained_failure"


def _ledger(progress: bool) -> str:
    return ('Updated Ledger:\n{"is_request_satisfied": {"reason": "no", "answer": false}, "is_in_loop": {"reason": '
            '"no", "answer": false}, "is_progress_being_made": {"reason": "r", "answer": ' + str(progress).lower() + "}}")


def test_orchestrator_ledger_saying_no_progress_is_stalled_caused_by_the_turn_it_judged() -> None:
    s = Session()
    judged = s.llm(content="I typed 'gdp' into the search bar.", name="WebSurfer")
    report = s.llm(content=_ledger(False), name="Orchestrator (thought)")
    s.end("failure")
    finding = s.labels()["stalled"]
    assert (finding["critical_seq"], finding["cause_seq"], finding["confidence"]) == (report, judged, 0.8)
    assert s.analysis()["critical_step"]["seq"] == judged


def test_a_later_ledger_reporting_progress_recovers_the_stall() -> None:
    s = Session()
    s.llm(content="I clicked 'Data'.", name="WebSurfer")
    s.llm(content=_ledger(False), name="Orchestrator (thought)")
    s.llm(content="I clicked 'GDP'.", name="WebSurfer")
    progress = s.llm(content=_ledger(True), name="Orchestrator (thought)")
    s.end("success")
    assert s.recovered()["stalled"]["recovered_by_seq"] == progress
    assert s.labels() == {}


def test_replanning_notice_is_stalled() -> None:
    s = Session()
    judged = s.llm(content="I scrolled down.", name="WebSurfer")
    s.llm(content="Stalled.... Replanning...", name="Orchestrator (thought)")
    s.end("failure")
    assert s.labels()["stalled"]["cause_seq"] == judged
