"""What the runners read of an incident, as api.start_fix_run returns it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def strings_of(value: Any) -> list[str]:
    """Every string inside a JSON value, in a stable order (object keys sorted)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key in sorted(value) for text in strings_of(value[key])]
    if isinstance(value, list):
        return [text for item in value for text in strings_of(item)]
    return []


@dataclass(frozen=True)
class SessionEvidence:
    session_id: str
    finding: dict[str, Any] | None  # this incident's finding in the session's stored analysis
    critical_step: dict[str, Any] | None
    events: list[dict[str, Any]]  # the failing step, its cause and evidence, in seq order


@dataclass(frozen=True)
class FixContext:
    fix_run_id: str
    incident: dict[str, Any]
    sessions: list[SessionEvidence]

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> FixContext:
        return cls(
            fix_run_id=value["fix_run_id"],
            incident=value["incident"],
            sessions=[SessionEvidence(s["session_id"], s.get("finding"), s.get("critical_step"), s.get("events") or [])
                      for s in value["sessions"]],
        )

    @property
    def primary(self) -> SessionEvidence | None:
        """The latest session that carries the incident's finding: the one plans quote."""
        return next((s for s in self.sessions if s.finding is not None), None)
