"""What a fix run produces: a plan, and either a validated diff or a labelled fallback."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# The closed set of docs/fix-agent.md (the fix_runs_fallback_known constraint holds the same list).
FallbackLabel = Literal[
    "no_model_configured", "no_repository", "repository_unavailable", "model_error", "timeout", "no_diff",
    "invalid_diff", "diff_too_large", "checks_failed",
]

PlanStep = dict[str, str]  # {"step": "what_failed" | "cause" | "change" | "verify" | ..., "text": ...}


@dataclass(frozen=True)
class Fallback:
    label: FallbackLabel
    reason: str


@dataclass
class FixOutcome:
    plan: list[PlanStep]
    diff: str | None = None
    fallback: Fallback | None = None
    base_sha: str | None = None
    repository: str | None = None
    model: str | None = None
    files: list[str] = field(default_factory=list)
    checks: dict[str, Any] | None = None
    timings: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The outcome as api.finish_fix_run stores it: text PostgreSQL can hold (no NUL, no lone surrogate)."""
        stored: dict[str, Any] = _storable({
            "plan": self.plan,
            "diff": self.diff,
            "fallback": None if self.fallback is None else {"label": self.fallback.label,
                                                            "reason": self.fallback.reason},
            "base_sha": self.base_sha,
            "repository": self.repository,
            "model": self.model,
            "files": self.files,
            "checks": self.checks,
            "timings": self.timings,
        })
        return stored


def _storable(value: Any) -> Any:
    # Model answers and command output are arbitrary text; jsonb and text refuse these two.
    if isinstance(value, str):
        return value.replace("\x00", "").encode("utf-8", errors="replace").decode("utf-8")
    if isinstance(value, dict):
        return {key: _storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    return value
