"""The suite: runs every detector over one pass of the events and assembles the analysis.

The events are consumed once, in the order given (seq order); each detector keeps bounded state,
so memory does not grow with the session and time is linear in its size.

Findings are the same whatever outcome the session claims: every failure site is reported, with
`recovered` and the seq that recovered it. The claimed outcome only feeds the session `verdict`
(and caps behavioural findings at WEAK in a session that claims success).

Critical step: among the decisive findings (unrecovered, still in effect when the session ends),
the one observed first — ties on the same seq go to the more specific label, in
`CRITICAL_PRIORITY` order — and the step named is its *cause*: the decision that produced the
failing action, not the event where the failure showed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from api.detectors.assertion_failed import AssertionFailed
from api.detectors.auth_error import AuthError
from api.detectors.canonical import InputDigest
from api.detectors.code_execution_error import CodeExecutionError
from api.detectors.context_overflow import ContextOverflow
from api.detectors.empty_or_refused_response import EmptyOrRefusedResponse
from api.detectors.events import read_event, str_of
from api.detectors.finding import Detector, Finding, SessionEnd
from api.detectors.llm_error import LlmError
from api.detectors.loop import Loop
from api.detectors.malformed_output import MalformedOutput
from api.detectors.malformed_tool_call import MalformedToolCall
from api.detectors.navigation_error import NavigationError
from api.detectors.not_found import NotFound
from api.detectors.rate_limited import RateLimited
from api.detectors.server_error import ServerError
from api.detectors.signals import SignalExtractor
from api.detectors.stalled import Stalled
from api.detectors.step_limit import StepLimit
from api.detectors.timeout import Timeout
from api.detectors.tool_error import ToolError
from api.detectors.unexplained_failure import UnexplainedFailure

SUITE_VERSION = "2026.12.1"
MAX_FINDINGS = 100  # per session: decisive findings first, then the earliest recovered ones
VERDICTS = ("failed", "succeeded_with_errors", "succeeded", "unknown")

DETECTORS: tuple[type[Detector], ...] = (
    ToolError,
    CodeExecutionError,
    RateLimited,
    AuthError,
    NotFound,
    ServerError,
    Timeout,
    Loop,
    StepLimit,
    ContextOverflow,
    MalformedToolCall,
    MalformedOutput,
    LlmError,
    EmptyOrRefusedResponse,
    AssertionFailed,
    NavigationError,
    Stalled,
)

# Most specific first: a cause (429, 404, a trace) names the step better than the channel it came
# through (tool_error, llm_error), and both better than behaviour (loop, stalled).
CRITICAL_PRIORITY: tuple[str, ...] = (
    "context_overflow",
    "step_limit",
    "rate_limited",
    "auth_error",
    "timeout",
    "not_found",
    "server_error",
    "code_execution_error",
    "malformed_tool_call",
    "malformed_output",
    "assertion_failed",
    "navigation_error",
    "empty_or_refused_response",
    "tool_error",
    "llm_error",
    "loop",
    "stalled",
    "unexplained_failure",
)
_RANK = {label: rank for rank, label in enumerate(CRITICAL_PRIORITY)}
LABELS: tuple[str, ...] = tuple(sorted(CRITICAL_PRIORITY))


class _Run:
    """One pass over the events: the digest, the shared signals and every detector."""

    def __init__(self) -> None:
        self.digest = InputDigest()
        self.extractor = SignalExtractor()
        self.detectors: list[Detector] = [cls() for cls in DETECTORS]
        self.unexplained = UnexplainedFailure()
        self.end = SessionEnd()
        self._routes: dict[str, tuple[tuple[Detector, ...], tuple[Detector, ...]]] = {}

    def feed(self, raw: object) -> None:
        self.digest.add(raw)
        event = read_event(raw)
        if event is None:
            return
        observation = self.extractor.observe(event)
        if event.type == "session.end":
            self.end = SessionEnd(outcome=str_of(event.payload.get("outcome")), seq=event.seq)
        by_type, by_signal = self._route(event.type)
        for detector in by_type:
            detector.observe(observation)
        if observation.site is not None or observation.recovers:
            for detector in by_signal:
                detector.observe(observation)

    def findings(self) -> list[Finding]:
        found = [finding for detector in self.detectors for finding in detector.findings(self.end)]
        found += self.unexplained.conclude(self.end, found)
        if len(found) > MAX_FINDINGS:
            found = sorted(found, key=lambda f: (not f.decisive, *_order(f)))[:MAX_FINDINGS]
        return sorted(found, key=_order)

    def _route(self, event_type: str) -> tuple[tuple[Detector, ...], tuple[Detector, ...]]:
        """(detectors subscribed to this type, signal detectors not already among them)."""
        route = self._routes.get(event_type)
        if route is None:
            everyone = [*self.detectors, self.unexplained]
            by_type = tuple(d for d in everyone if event_type in d.event_types)
            by_signal = tuple(d for d in everyone if d.wants_signals and d not in by_type)
            route = self._routes[event_type] = (by_type, by_signal)
        return route


def _order(finding: Finding) -> tuple[int, str, str, str, str]:
    signature = finding.signature
    return (finding.critical_seq, finding.label, signature.tool or "", signature.error_type or "", signature.message)


def detect(events: Iterable[Mapping[str, Any]]) -> list[Finding]:
    """Every finding for the session's events (in seq order), sorted by critical seq, then label."""
    run = _Run()
    for raw in events:
        run.feed(raw)
    return run.findings()


def analyze(events: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The analysis of a session: `{detector_version, input_digest, labels, critical_step, verdict}`."""
    run = _Run()
    for raw in events:
        run.feed(raw)
    findings = run.findings()
    return {
        "detector_version": SUITE_VERSION,
        "input_digest": run.digest.hexdigest(),
        "labels": [finding.as_label() for finding in findings],
        "critical_step": critical_step(findings),
        "verdict": verdict(run.end, findings),
    }


def critical_step(findings: Iterable[Finding]) -> dict[str, Any] | None:
    """`{seq, observed_seq, label, reason}`: the cause of the first decisive finding, or None."""
    decisive = [f for f in findings if f.decisive]
    if not decisive:
        return None
    first = min(decisive, key=lambda f: (f.critical_seq, _RANK.get(f.label, len(_RANK)), *_order(f)[1:]))
    return {"seq": first.cause_seq, "observed_seq": first.critical_seq, "label": first.label, "reason": first.reason}


def verdict(end: SessionEnd, findings: Iterable[Finding]) -> str:
    """The session verdict: the claimed outcome, checked against what the findings say."""
    if end.failed:
        return "failed"
    if end.succeeded:
        return "succeeded_with_errors" if any(f.decisive for f in findings) else "succeeded"
    return "unknown"  # no outcome, or cancelled: nothing claimed to check
