"""The session verdict: the claimed outcome checked against the findings; findings never depend on it."""

from __future__ import annotations

import pytest
from detector_events import Session


def _session(outcome: str | None, broken: bool) -> Session:
    s = Session()
    s.call("search")
    if broken:
        s.fail("search", type="BackendDown", message="search backend is down")
    else:
        s.ok("search", "3 hits")
    if outcome is not None:
        s.end(outcome)
    return s


@pytest.mark.parametrize(
    ("outcome", "broken", "verdict"),
    [
        ("failure", True, "failed"), ("error", False, "failed"), ("success", True, "succeeded_with_errors"),
        ("success", False, "succeeded"), ("cancelled", True, "unknown"), (None, True, "unknown"),
    ],
)  # fmt: skip
def test_verdict_follows_the_claim_and_the_unrecovered_findings(outcome: str | None, broken: bool,
                                                                verdict: str) -> None:
    assert _session(outcome, broken).analysis()["verdict"] == verdict


def test_findings_are_the_same_whatever_outcome_is_claimed() -> None:
    def findings(outcome: str) -> list[object]:
        return [{k: v for k, v in e.items()} for e in _session(outcome, True).analysis()["labels"]]

    assert findings("success") == findings("failure") == findings("cancelled")
