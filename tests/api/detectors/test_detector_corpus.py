"""The detection corpus (tests/corpus/): annotated runs in real frameworks' shapes, scored by bench.detection."""

from __future__ import annotations

from typing import Any

import pytest

from api.detectors import LABELS, analyze
from api.event_types import validate_event
from bench.detection import load, score

RUNS = load()


def test_corpus_has_sixty_runs_across_the_frameworks() -> None:
    assert len(RUNS) >= 60
    frameworks = {run["framework"] for _, run in RUNS}
    assert frameworks >= {
        "smolagents_code", "smolagents_toolcalling", "magentic_one", "autogen_experts", "langgraph_react",
        "browser_use",
    }  # fmt: skip


def test_every_label_has_three_positive_and_three_near_miss_runs() -> None:
    report = score(RUNS)
    for label in LABELS:
        assert len(report.positive_runs[label]) >= 3, label
        assert len(report.near_miss_runs[label]) >= 3, label


def test_corpus_figures_meet_the_bar() -> None:
    report = score(RUNS)
    overall = report.overall
    assert overall.cause_exact / overall.mistakes >= 0.70
    assert overall.right_findings / overall.findings >= 0.85
    assert report.false_flags == 0 and report.clean_runs >= 8
    assert report.near_miss_hits == []


@pytest.mark.parametrize(("name", "run"), RUNS, ids=[name for name, _ in RUNS])
def test_run_gets_its_verdict_and_none_of_its_near_misses(name: str, run: dict[str, Any]) -> None:
    analysis = analyze(run["events"])
    expected = run["expected"]
    assert analysis["verdict"] == expected["verdict"]
    found = {entry["label"] for entry in analysis["labels"]}
    assert not found & set(expected["near_miss"])
    if not expected["mistakes"]:
        assert analysis["labels"] == [] and analysis["critical_step"] is None


@pytest.mark.parametrize(("name", "run"), RUNS, ids=[name for name, _ in RUNS])
def test_run_is_in_the_ingestion_schema(name: str, run: dict[str, Any]) -> None:
    for event in run["events"]:
        validate_event(event)
