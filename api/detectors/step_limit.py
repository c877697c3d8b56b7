"""step_limit — the agent ran out of steps, iterations, turns or recursion budget.

Rule: an error site (typically session.end, an error event) or a log line that says the agent's
step budget was exhausted, unless the session then succeeds.
- STRONG: exception type like AgentMaxStepsError, MaxTurnsExceeded, MaxIterations, StepLimit,
  GraphRecursionError; code (or a session.end `reason` identifier) max_steps, max_steps_reached,
  max_iterations, max_turns_exceeded, step_limit, recursion_limit, ...
- MEDIUM: a phrase in an error message: "Reached max steps", "max turns (10) exceeded",
  "Recursion limit of 25 reached", "Agent stopped due to iteration limit".
- WEAK: the same phrase in a log line (any level), or "step limit" / "max iterations" alone in an
  error message.
Python's `RecursionError` (maximum recursion depth) is a crash, not a step budget, and is excluded.
"""

from __future__ import annotations

from api.detectors.events import shorten, str_of
from api.detectors.finding import WEAK, Match, Signature
from api.detectors.signals import Observation
from api.detectors.site_rules import CauseDetector, CauseRule, pattern

_BUDGET = r"(?:steps?|iterations?|turns?|rounds?)"
_REACHED = r"(?:reached|exceeded|hit|exhausted)"
_PHRASE = pattern(
    rf"{_REACHED}\s+(?:the\s+)?(?:max(?:imum)?|step|iteration|turn)\b[^\r\n]{{0,30}}?(?:{_BUDGET}|limit)"
    rf"|\bmax(?:imum)?[\s_-]*(?:number\s+of\s+)?{_BUDGET}\b(?:\s*\(\d+\))?\s+(?:was\s+|has\s+been\s+)?{_REACHED}"
    rf"|\b(?:step|iteration|turn|recursion)[\s_-]+limit\b(?:\s+of\s+\d+)?\s+(?:was\s+|has\s+been\s+)?{_REACHED}"
    r"|stopped due to (?:iteration|max[\s_-]*steps?|step) limit"
)


class StepLimit(CauseDetector):
    label = "step_limit"
    summary = "step limit reached"
    event_types = frozenset({"log"})
    rule = CauseRule(
        error_types=pattern(r"MaxSteps|MaxIterations|MaxTurns|StepLimit|IterationLimit|GraphRecursion|RecursionLimit"),
        codes=frozenset(
            {
                "max_steps",
                "max_steps_reached",
                "max_steps_exceeded",
                "max_iterations",
                "max_iterations_reached",
                "max_turns",
                "max_turns_exceeded",
                "step_limit",
                "step_limit_reached",
                "iteration_limit",
                "recursion_limit",
                "turn_limit",
            }
        ),
        phrases=_PHRASE,
        keywords=pattern(rf"\bmax(?:imum)?[\s_-]*{_BUDGET}\b|\b(?:step|iteration|turn|recursion)[\s_-]+limit\b"),
        excludes=pattern(r"\bRecursionError\b|maximum recursion depth"),
    )

    def observe(self, observation: Observation) -> None:
        event = observation.event
        if event.type != "log":
            super().observe(observation)
            return
        message = str_of(event.payload.get("message")) or ""
        found = _PHRASE.search(message)
        if found is None:
            return
        level = str_of(event.payload.get("level"))
        self._pending.add(
            "log",
            Match(
                seq=event.seq,
                confidence=WEAK,
                signature=Signature(tool=None, error_type=None, message=shorten(message)),
                reason=f"step limit reached: log at seq {event.seq} says {found.group(0)!r}",
                facts={
                    "source": "log",
                    "level": level,
                    "message": shorten(message),
                    "basis": "log_phrase",
                    "matched": found.group(0),
                },
                cause_seq=observation.cause,
            ),
        )
