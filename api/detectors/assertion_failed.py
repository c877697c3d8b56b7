"""assertion_failed — a check recorded in the trace did not pass.

Rule: an `assertion` event with `passed: false` (STRONG), unless a later assertion with the same
key passes (that pass recovers it); the key is the assertion's `name`, else its `message`, else
its `expected` value. Cause: the latest decision before the check (what produced the checked result).
"""

from __future__ import annotations

from api.detectors.canonical import canonical_json
from api.detectors.events import shorten, str_of
from api.detectors.finding import STRONG, Detector, Finding, Match, SessionEnd, Signature
from api.detectors.pending import PendingMatches
from api.detectors.signals import Observation

_VALUE_LIMIT = 200


class AssertionFailed(Detector):
    label = "assertion_failed"
    event_types = frozenset({"assertion"})

    def __init__(self) -> None:
        self._pending = PendingMatches()

    def observe(self, observation: Observation) -> None:
        event = observation.event
        payload = event.payload
        passed = payload.get("passed")
        if not isinstance(passed, bool):
            return
        message = str_of(payload.get("message"))
        key = event.name or message or shorten(canonical_json(payload.get("expected")), _VALUE_LIMIT)
        if passed:
            self._pending.clear(key, event.seq)
            return
        expected = shorten(canonical_json(payload.get("expected")), _VALUE_LIMIT)
        actual = shorten(canonical_json(payload.get("actual")), _VALUE_LIMIT)
        text = message or f"expected {expected}, got {actual}"
        self._pending.add(
            key,
            Match(
                seq=event.seq,
                confidence=STRONG,
                signature=Signature(tool=None, error_type=None, message=shorten(text)),
                reason=f"assertion failed at seq {event.seq}: {shorten(text, 200)}",
                facts={"name": event.name, "message": message, "expected": expected, "actual": actual},
                cause_seq=observation.cause,
            ),
        )

    def findings(self, end: SessionEnd) -> list[Finding]:
        return self._pending.findings(self.label)
