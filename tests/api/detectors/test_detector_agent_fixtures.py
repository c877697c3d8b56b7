"""Realistic sessions from public agent formats, expressed as our events, with expected analyses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from api.detectors import analyze

FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    fixture: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return fixture


def test_every_agent_format_has_a_fixture() -> None:
    assert {path.stem for path in FIXTURES} >= {
        "swe_agent_python_traceback",
        "openai_function_calling_retry",
        "browser_use_element_not_found",
    }


@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: path.stem)
def test_fixture_gets_exactly_its_expected_labels_at_their_seqs(path: Path) -> None:
    fixture = _load(path)
    analysis = analyze(fixture["events"])
    found = {entry["label"]: entry["critical_seq"] for entry in analysis["labels"]}
    assert found == fixture["expected"]["labels"]
    assert not set(found) & set(fixture["expected"]["absent"])


@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: path.stem)
def test_fixture_critical_step_is_the_first_unrecovered_error(path: Path) -> None:
    fixture = _load(path)
    step = analyze(fixture["events"])["critical_step"]
    assert {"seq": step["seq"], "label": step["label"]} == fixture["expected"]["critical_step"]
    assert step["reason"]


@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: path.stem)
def test_fixture_events_pass_ingestion_validation(path: Path) -> None:
    pytest.importorskip("pydantic")
    from api.event_types import validate_event

    for event in _load(path)["events"]:
        validate_event(event)
