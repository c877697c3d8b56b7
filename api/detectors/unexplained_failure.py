"""unexplained_failure — the session failed and no other rule says why.

Rule: session.end has outcome `failure` or `error`, and no other detector produced a decisive
finding (an unrecovered error, a failed assertion, a loop or stall still running at the end).
- critical seq: the last step before session.end (the last tool, llm, browser, error or assertion
  event), where the failure showed; session.end itself when there is none.
- cause: the cause of the earliest failure the agent recovered from (it cost a step, and with
  nothing else wrong it is the best-evidenced mistake); with none, the run's first decision (the
  plan every later step followed; a turn named `human`/`user` states the task and is not one); with
  no decision, the critical seq.
- confidence: MEDIUM when session.end carries an `error` or a `reason` (there is a stated cause
  we could not classify), WEAK when it carries neither.
"""

from __future__ import annotations

from api.detectors.events import Event, error_info, shorten, str_of
from api.detectors.finding import MEDIUM, WEAK, Detector, Finding, SessionEnd, Signature
from api.detectors.signals import Observation

STEP_TYPES = frozenset(
    {
        "tool.call",
        "tool.result",
        "llm.request",
        "llm.response",
        "browser.action",
        "browser.navigation",
        "error",
        "assertion",
    }
)


_TASK_GIVERS = frozenset({"human", "user"})


def _is_decision(event: Event) -> bool:
    """An agent's turn: an ok llm.response not spoken by the task giver (a transcript's `human` request)."""
    if event.type != "llm.response" or event.payload.get("error"):
        return False
    return (event.name or "").lower() not in _TASK_GIVERS


class UnexplainedFailure(Detector):
    label = "unexplained_failure"
    event_types = STEP_TYPES | {"session.end"}

    def __init__(self) -> None:
        self._last_step: int | None = None
        self._critical: int | None = None
        self._error_type: str | None = None
        self._message = ""
        self._stated = False
        self._first_decision: int | None = None

    def observe(self, observation: Observation) -> None:
        event = observation.event
        if event.type != "session.end":
            self._last_step = event.seq
            if self._first_decision is None and _is_decision(event):
                self._first_decision = event.seq
            return
        error = error_info(event.payload.get("error"))
        reason = str_of(event.payload.get("reason"))
        self._critical = self._last_step if self._last_step is not None else event.seq
        self._error_type = error.type if error else None
        self._message = shorten((error.message if error else None) or reason or "")
        self._stated = error is not None or bool(reason)

    def findings(self, end: SessionEnd) -> list[Finding]:
        return []  # decided by `conclude`, once the other findings are known

    def conclude(self, end: SessionEnd, found: list[Finding]) -> list[Finding]:
        if not end.failed or self._critical is None or any(f.decisive for f in found):
            return []
        recovered = min(found, key=lambda f: (f.critical_seq, f.cause_seq, f.label), default=None)
        if recovered is not None:
            cause = recovered.cause_seq
        else:
            cause = self._first_decision if self._first_decision is not None else self._critical
        seqs = tuple(sorted({self._critical, end.seq if end.seq is not None else self._critical}))
        return [
            Finding(
                label=self.label,
                confidence=MEDIUM if self._stated else WEAK,
                critical_seq=self._critical,
                seqs=seqs,
                facts={"outcome": end.outcome, "stated_cause": self._message or None},
                signature=Signature(tool=None, error_type=self._error_type, message=self._message),
                reason=f"session ended with {end.outcome} and no rule explains it; last step at seq {self._critical}",
                cause_seq=cause,
            )
        ]
