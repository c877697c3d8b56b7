"""What a detector reports: a `Finding`, and the `Detector` interface every rule implements.

Confidence levels are shared by all rules so that they mean the same thing everywhere:
STRONG (0.95) for an explicit status code, exception type or error code; MEDIUM (0.8) for a
specific phrase or a status number written in a message; WEAK (0.6) for a keyword alone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from api.detectors.signals import Observation

STRONG = 0.95
MEDIUM = 0.8
WEAK = 0.6

EVIDENCE_SEQS = 20


@dataclass(frozen=True, slots=True)
class Signature:
    """What incident clustering groups on (normalised later, in SQL)."""

    tool: str | None
    error_type: str | None
    message: str


@dataclass(frozen=True, slots=True)
class Finding:
    """One failure site (label, signature): where it was observed, the decision that caused it,
    how often it happened and whether the agent recovered from it."""

    label: str
    confidence: float
    critical_seq: int  # where the failure was observed
    seqs: tuple[int, ...]
    facts: Mapping[str, Any]
    signature: Signature
    reason: str
    cause_seq: int  # the decision (model or agent turn) that produced the failing action
    occurrences: int = 1
    recovered_by_seq: int | None = None
    # A behaviour that ended before the session did (a loop the agent broke out of) is not
    # recovered by a later success of its own, but it is no longer in effect either.
    ended: bool = False

    @property
    def recovered(self) -> bool:
        return self.recovered_by_seq is not None

    @property
    def decisive(self) -> bool:
        """Still in effect when the session ends: only these explain a failure or name its step."""
        return not self.recovered and not self.ended

    def as_label(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "confidence": round(min(max(self.confidence, 0.0), 1.0), 2),
            "critical_seq": self.critical_seq,
            "cause_seq": self.cause_seq,
            "recovered": self.recovered,
            "recovered_by_seq": self.recovered_by_seq,
            "occurrences": self.occurrences,
            "evidence": {"seqs": list(self.seqs), "facts": dict(self.facts)},
            "signature": {
                "label": self.label,
                "tool": self.signature.tool,
                "error_type": self.signature.error_type,
                "message": self.signature.message,
            },
        }


@dataclass(frozen=True, slots=True)
class SessionEnd:
    """How the session ended, as far as the events say (`outcome` None: no session.end seen)."""

    outcome: str | None = None
    seq: int | None = None

    @property
    def succeeded(self) -> bool:
        return self.outcome == "success"

    @property
    def failed(self) -> bool:
        return self.outcome in ("failure", "error")


class Detector(ABC):
    """One rule: an incremental state machine fed events in seq order, with bounded state.

    `observe` receives every event whose type is in `event_types`, and, when `wants_signals` is
    set, every event that carries an error site or a recovery. `findings` is called once, after
    the last event.
    """

    label: ClassVar[str]
    event_types: ClassVar[frozenset[str]] = frozenset()
    wants_signals: ClassVar[bool] = False

    @abstractmethod
    def observe(self, observation: Observation) -> None: ...

    @abstractmethod
    def findings(self, end: SessionEnd) -> list[Finding]: ...


@dataclass(slots=True)
class Match:
    """One matching event, before recovery is known."""

    seq: int
    confidence: float
    signature: Signature
    reason: str
    facts: Mapping[str, Any] = field(default_factory=dict)
    cause_seq: int | None = None  # None: the matching event is its own cause
