"""stalled — the agent keeps acting without progress: the page stays the same, or the orchestrator says so.

Rule 1 (browser): consecutive browser.action events whose page digest (screenshot_digest and/or dom_digest)
equals the page before them — every digest both sides carry is equal — for at least
`MIN_UNCHANGED` actions in a row. A navigation, or an action that changes a digest, breaks the run;
actions without digests are ignored.
- critical seq: the first action that left the page unchanged; cause: the decision behind it.
- confidence: WEAK at 3 unchanged actions, MEDIUM from 5, STRONG from 8 — while the stall lasts
  to the end of the trace. A stall the page later came out of is reported at WEAK and is not
  decisive. In a session that claims success, a stall is at most WEAK.

Rule 2 (orchestrator): an agent turn that is a progress report saying the run is stuck (see
progress_reports: Magentic-One's ledger with `is_in_loop` true or `is_progress_being_made` false,
`Stalled.... Replanning...`). MEDIUM. Critical seq: the report; cause: the turn it judged (the
latest turn of another agent before it). Recovered by a later report that progress is being made.
One finding per reason, so the first stuck report keeps its place.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from api.detectors.events import Event, str_of
from api.detectors.finding import EVIDENCE_SEQS, MEDIUM, STRONG, WEAK, Detector, Finding, Match, SessionEnd, Signature
from api.detectors.pending import PendingMatches
from api.detectors.progress_reports import progress_report
from api.detectors.signals import Observation, agent_of, page_digest, same_page

MIN_UNCHANGED = 3


@dataclass(slots=True)
class _Stall:
    start_seq: int
    cause_seq: int
    unchanged: int
    seqs: list[int] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    ended: bool = False


class Stalled(Detector):
    label = "stalled"
    event_types = frozenset({"browser.action", "browser.navigation", "llm.response"})

    def __init__(self) -> None:
        self._page: tuple[str | None, str | None] | None = None
        self._run: _Stall | None = None
        self._reports = PendingMatches()
        self._turns: deque[tuple[int, str | None]] = deque(maxlen=16)  # recent (seq, agent) turns
        self._first: _Stall | None = None
        self._latest: _Stall | None = None

    def observe(self, observation: Observation) -> None:
        event = observation.event
        if event.type == "llm.response":
            self._judge_report(event)
            return
        if event.type == "browser.navigation":
            self._break_run()
            self._page = page_digest(event.payload)
            return
        after = page_digest(event.payload)
        if after is None:
            return
        if self._page is not None and same_page(self._page, after):
            self._extend_run(event, observation.cause)
        else:
            self._break_run()
        self._page = after

    def _judge_report(self, event: Event) -> None:
        agent = agent_of(event)
        content = event.payload.get("content")
        report = progress_report(content) if isinstance(content, str) and not event.payload.get("error") else None
        if report is None:
            self._turns.append((event.seq, agent))
            return
        stuck, said = report
        if not stuck:
            self._reports.clear("progress", event.seq)
            return
        judged = next((seq for seq, other in reversed(self._turns) if other != agent), event.seq)
        self._reports.add("progress", Match(
            seq=event.seq, confidence=MEDIUM, cause_seq=judged,
            signature=Signature(tool=agent, error_type=None, message=f"orchestrator reports no progress: {said}"),
            reason=f"{agent or 'the orchestrator'} reports no progress at seq {event.seq} ({said}), judging {judged}",
            facts={"source": "progress_report", "agent": agent, "matched": said},
        ))  # fmt: skip

    def findings(self, end: SessionEnd) -> list[Finding]:
        reports = self._reports.findings(self.label)
        stall = self._latest if self._latest is not None and not self._latest.ended else self._first
        if stall is None:
            return reports
        count = stall.unchanged
        confidence = WEAK if stall.ended or end.succeeded else STRONG if count >= 8 else MEDIUM if count >= 5 else WEAK
        return [
            Finding(
                label=self.label,
                confidence=confidence,
                critical_seq=stall.start_seq,
                seqs=tuple(stall.seqs),
                facts={"unchanged_actions": count, "actions": stall.actions[:EVIDENCE_SEQS], "ended": stall.ended},
                signature=Signature(tool=None, error_type=None, message="browser state unchanged across actions"),
                reason=f"page unchanged across {count} browser actions from seq {stall.start_seq}"
                + (" (it later changed)" if stall.ended else ""),
                cause_seq=stall.cause_seq,
                ended=stall.ended,
            ),
            *reports,
        ]

    def _extend_run(self, event: Event, cause: int) -> None:
        run = self._run
        if run is None:
            run = self._run = _Stall(start_seq=event.seq, cause_seq=cause, unchanged=0)
        run.unchanged += 1
        if len(run.seqs) < EVIDENCE_SEQS:
            run.seqs.append(event.seq)
            run.actions.append(str_of(event.payload.get("action")) or "<unnamed>")
        if run.unchanged == MIN_UNCHANGED:
            self._latest = run
            if self._first is None:
                self._first = run

    def _break_run(self) -> None:
        if self._run is not None:
            self._run.ended = True
        self._run = None
