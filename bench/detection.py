"""Detection quality on the annotated corpus (tests/corpus/): causes, precision, false flags.

    python -m bench.detection

For every annotated mistake (labels, the step that made it, where it showed, recovered or not):
- detected: a finding with one of its labels observed at its step or caused in its agent step;
- cause exact: such a finding whose `cause_seq` is the annotated step;
- cause in step: its cause lies in the same agent step (the events from one decision — an
  `llm.response` — up to the next);
- recovered agrees: the finding's `recovered` is the annotation's.
Precision counts every finding: it is right when it matches an annotated mistake as above.
False flags: findings on runs with no annotated mistake. Near misses: findings of a label a run
was written to resemble but not have. Session figures: critical step and verdict as annotated.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.detectors import LABELS, analyze

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "corpus"


@dataclass
class Tally:
    mistakes: int = 0
    detected: int = 0
    cause_exact: int = 0
    cause_in_step: int = 0
    recovered_agrees: int = 0
    findings: int = 0
    right_findings: int = 0

    def add(self, other: Tally) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Report:
    runs: int = 0
    overall: Tally = field(default_factory=Tally)
    by_label: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    clean_runs: int = 0
    false_flags: int = 0
    near_miss_hits: list[tuple[str, str]] = field(default_factory=list)
    critical_exact: int = 0
    verdicts_right: int = 0
    positive_runs: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    near_miss_runs: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    misses: list[str] = field(default_factory=list)


def load(root: Path = CORPUS) -> list[tuple[str, dict[str, Any]]]:
    """(name, run) for every corpus file, in a stable order."""
    return [(f"{path.parent.name}/{path.stem}", json.loads(path.read_text(encoding="utf-8")))
            for path in sorted(root.glob("*/*.json"))]


def agent_steps(events: list[dict[str, Any]]) -> dict[int, int]:
    """seq -> the decision that opens its agent step (the latest llm.response without error at or before it)."""
    steps, current = {}, None
    for event in events:
        payload = event.get("payload") or {}
        if event.get("type") == "llm.response" and not payload.get("error"):
            current = event["seq"]
        steps[event["seq"]] = event["seq"] if current is None else current
    return steps


def _matcher(step: dict[int, int]) -> Callable[[dict[str, Any], dict[str, Any]], bool]:
    """Whether a finding is an annotated mistake: one of its labels, seen at its step or caused in its agent step."""

    def matches(finding: dict[str, Any], mistake: dict[str, Any]) -> bool:
        if finding["label"] not in mistake["labels"]:
            return False
        return finding["critical_seq"] == mistake["observed_seq"] or (
            step.get(finding["cause_seq"]) == step.get(mistake["cause_seq"])
        )

    return matches


def score(runs: Iterable[tuple[str, dict[str, Any]]]) -> Report:
    report = Report()
    for name, run in runs:
        report.runs += 1
        events, expected = run["events"], run["expected"]
        analysis = analyze(events)
        findings = analysis["labels"]
        step = agent_steps(events)
        matches = _matcher(step)

        for mistake in expected["mistakes"]:
            tally = Tally(mistakes=1)
            found = [f for f in findings if matches(f, mistake)]
            tally.detected = int(bool(found))
            tally.cause_exact = int(any(f["cause_seq"] == mistake["cause_seq"] for f in found))
            tally.cause_in_step = int(any(step.get(f["cause_seq"]) == step.get(mistake["cause_seq"]) for f in found))
            tally.recovered_agrees = int(any(f["recovered"] is mistake["recovered"] for f in found))
            if not tally.cause_exact:
                report.misses.append(f"{name}: {mistake['labels'][0]} caused at {mistake['cause_seq']}, found "
                                     + (", ".join(f"{f['label']}@{f['cause_seq']}" for f in found) or "nothing"))
            report.overall.add(tally)
            report.by_label[mistake["labels"][0]].add(tally)
            for label in mistake["labels"]:
                report.positive_runs[label].add(name)
        for finding in findings:
            right = any(matches(finding, mistake) for mistake in expected["mistakes"])
            tally = Tally(findings=1, right_findings=int(right))
            report.overall.add(tally)
            report.by_label[finding["label"]].add(tally)
            if not right:
                report.misses.append(f"{name}: unexpected {finding['label']} at {finding['critical_seq']}")
        if not expected["mistakes"]:
            report.clean_runs += 1
            report.false_flags += len(findings)
        for label in expected["near_miss"]:
            report.near_miss_runs[label].add(name)
            if any(f["label"] == label for f in findings):
                report.near_miss_hits.append((name, label))
        critical = analysis["critical_step"]
        critical_seq = critical["seq"] if critical else None
        report.critical_exact += int(critical_seq == expected["critical_step"])
        report.verdicts_right += int(analysis["verdict"] == expected["verdict"])
        if critical_seq != expected["critical_step"]:
            report.misses.append(f"{name}: critical step {critical_seq}, annotated {expected['critical_step']}")
        if analysis["verdict"] != expected["verdict"]:
            report.misses.append(f"{name}: verdict {analysis['verdict']}, annotated {expected['verdict']}")
    return report


def _ratio(part: int, whole: int) -> str:
    return f"{part / whole:.2f}" if whole else "-"


def render(report: Report) -> str:
    lines = [f"{'label':<26} {'mistakes':>8} {'detected':>8} {'cause=':>7} {'in step':>7} {'recov.':>7}"
             f" {'findings':>8} {'precision':>9} {'pos':>4} {'near':>4}"]
    rows = [*sorted(LABELS), "overall"]
    for label in rows:
        t = report.overall if label == "overall" else report.by_label.get(label, Tally())
        positives = "" if label == "overall" else str(len(report.positive_runs.get(label, ())))
        near = "" if label == "overall" else str(len(report.near_miss_runs.get(label, ())))
        lines.append(f"{label:<26} {t.mistakes:>8} {_ratio(t.detected, t.mistakes):>8}"
                     f" {_ratio(t.cause_exact, t.mistakes):>7} {_ratio(t.cause_in_step, t.mistakes):>7}"
                     f" {_ratio(t.recovered_agrees, t.mistakes):>7} {t.findings:>8}"
                     f" {_ratio(t.right_findings, t.findings):>9} {positives:>4} {near:>4}")
    lines.append("")
    lines.append(f"runs {report.runs}; clean runs {report.clean_runs}, false flags on them {report.false_flags};"
                 f" near-miss hits {len(report.near_miss_hits)}")
    lines.append(f"critical step as annotated {report.critical_exact}/{report.runs};"
                 f" verdict as annotated {report.verdicts_right}/{report.runs}")
    return "\n".join(lines)


def main() -> None:
    report = score(load())
    print(render(report))
    if report.misses:
        print("\nnot as annotated:")
        for miss in report.misses:
            print(f"  {miss}")


if __name__ == "__main__":
    main()
