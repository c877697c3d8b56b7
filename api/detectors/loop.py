"""loop — the agent repeats the same action, or a short cycle of actions, without progress.

Rule: actions are tool.call events (tool + normalised arguments: JSON strings parsed, keys sorted,
whitespace in strings collapsed) and browser.action events (action, selector, value). Each action
is paired with its outcome: the tool.result of the call (matched by call_id, else the next result
of the same tool) or, for a browser action, its status, error and page digests. A loop is a
pattern of 1 to `MAX_PERIOD` actions that occurs `MIN_CYCLES` times in a row with the same
outcomes each time; a repetition whose outcome differs is progress and breaks the pattern.
- critical seq: the first action of the repeated pattern; cause: the decision that issued it.
- confidence: WEAK at 3 cycles, MEDIUM from 4, STRONG from 6 — while the loop is still running
  at the end of the trace. A loop that the agent later broke out of is reported at WEAK and is not
  decisive (it cannot be the critical step or explain the failure by itself). In a session that
  claims success, a loop is at most WEAK: repetition alone is weak evidence against a stated result.
  A final answer (the `final_answer` tool, or code calling it) is not an action here: answering
  after a loop does not break out of it.
Only the first loop is kept, unless a later one is still running at the end (that one is
reported instead).
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from api.detectors.canonical import canonical_json, short_hash
from api.detectors.events import Event, mapping_of, scalar_text, str_of
from api.detectors.finding import (
    EVIDENCE_SEQS,
    MEDIUM,
    STRONG,
    WEAK,
    Detector,
    Finding,
    SessionEnd,
    Signature,
)
from api.detectors.signals import Observation, gives_up

MAX_PERIOD = 4
MIN_CYCLES = 3
_AWAITING_RESULTS = 8  # calls waiting for their results before they are judged without one


@dataclass(slots=True)
class _Step:
    seq: int
    cause: int
    action: str  # fingerprint of what was done
    shown: str  # tool name or browser.<action>, for people
    tool: str | None
    call_id: str | None
    outcome: str | None = None
    resolved: bool = False


@dataclass(slots=True)
class _Loop:
    start_seq: int
    cause_seq: int
    period: int
    pattern: tuple[str, ...]
    tool: str | None
    matched_steps: int
    seqs: list[int] = field(default_factory=list)
    ended: bool = False

    @property
    def cycles(self) -> int:
        return (self.period + self.matched_steps) // self.period


class Loop(Detector):
    label = "loop"
    event_types = frozenset({"tool.call", "tool.result", "browser.action"})

    def __init__(self) -> None:
        self._awaiting: deque[_Step] = deque()
        self._window: deque[_Step] = deque(maxlen=MAX_PERIOD * MIN_CYCLES)
        self._runs = [0] * (MAX_PERIOD + 1)
        self._run_starts: list[_Step | None] = [None] * (MAX_PERIOD + 1)
        self._active: _Loop | None = None
        self._first: _Loop | None = None
        self._latest: _Loop | None = None
        self._detected = 0

    def observe(self, observation: Observation) -> None:
        event = observation.event
        if event.type == "tool.call":
            if gives_up(_tool_of(event), event.payload.get("arguments")):
                return  # answering after a loop does not break out of it
            self._awaiting.append(_tool_step(event, observation.cause))
            if len(self._awaiting) > _AWAITING_RESULTS:
                self._judge(self._awaiting.popleft())
        elif event.type == "tool.result":
            self._attach_result(event)
        else:
            self._awaiting.append(_browser_step(event, observation.cause))
        while self._awaiting and self._awaiting[0].resolved:
            self._judge(self._awaiting.popleft())

    def findings(self, end: SessionEnd) -> list[Finding]:
        while self._awaiting:
            self._judge(self._awaiting.popleft())
        loop = self._latest if self._latest is not None and not self._latest.ended else self._first
        if loop is None:
            return []
        cycles = loop.cycles
        confidence = STRONG if cycles >= 6 else MEDIUM if cycles >= 4 else WEAK
        if loop.ended or end.succeeded:
            confidence = WEAK
        shown = " -> ".join(loop.pattern)
        return [
            Finding(
                label=self.label,
                confidence=confidence,
                critical_seq=loop.start_seq,
                seqs=tuple(loop.seqs),
                facts={
                    "pattern": list(loop.pattern),
                    "period": loop.period,
                    "cycles": cycles,
                    "ended": loop.ended,
                    "loops_detected": self._detected,
                },
                signature=Signature(tool=loop.tool, error_type=None, message=f"repeated without progress: {shown}"),
                reason=f"{shown} repeated {cycles} times with the same results from seq {loop.start_seq}"
                + (" (the agent later broke out)" if loop.ended else ""),
                cause_seq=loop.cause_seq,
                ended=loop.ended,
            )
        ]

    def _attach_result(self, event: Event) -> None:
        payload = event.payload
        call_id = str_of(payload.get("call_id"))
        tool = str_of(payload.get("tool")) or event.name
        outcome = short_hash([payload.get("status"), payload.get("output"), payload.get("error")])
        for step in self._awaiting:
            if step.resolved:
                continue
            if (call_id is not None and step.call_id == call_id) or (call_id is None and step.tool == tool):
                step.outcome, step.resolved = outcome, True
                return

    def _judge(self, step: _Step) -> None:
        window = self._window
        for period in range(1, MAX_PERIOD + 1):
            if len(window) >= period:
                earlier = window[-period]
                if earlier.action == step.action and earlier.outcome == step.outcome:
                    if self._runs[period] == 0:
                        self._run_starts[period] = earlier
                    self._runs[period] += 1
                    continue
            self._runs[period] = 0
        active = self._active
        if active is not None:
            if self._runs[active.period]:
                active.matched_steps = self._runs[active.period]
                if len(active.seqs) < EVIDENCE_SEQS:
                    active.seqs.append(step.seq)
            else:
                active.ended = True
                self._active = None
        window.append(step)
        if self._active is None:
            self._start_loop()

    def _start_loop(self) -> None:
        for period in range(1, MAX_PERIOD + 1):
            if self._runs[period] >= period * (MIN_CYCLES - 1):
                steps = list(self._window)[-(period + self._runs[period]) :]
                pattern = tuple(step.shown for step in steps[:period])
                start = self._run_starts[period] or steps[0]
                loop = _Loop(
                    start_seq=start.seq,
                    cause_seq=start.cause,
                    period=period,
                    pattern=pattern,
                    tool=steps[0].tool,
                    matched_steps=self._runs[period],
                    seqs=sorted({start.seq, *(step.seq for step in steps)})[:EVIDENCE_SEQS],
                )
                self._active = self._latest = loop
                if self._first is None:
                    self._first = loop
                self._detected += 1
                return


def _tool_of(event: Event) -> str | None:
    return str_of(event.payload.get("tool")) or event.name


def _tool_step(event: Event, cause: int) -> _Step:
    payload = event.payload
    tool = _tool_of(event)
    arguments = _normalise(_parsed(payload.get("arguments")))
    return _Step(
        seq=event.seq,
        cause=cause,
        action=short_hash(["tool", tool, arguments]),
        shown=tool or "<unnamed>",
        tool=tool,
        call_id=str_of(payload.get("call_id")),
    )


def _browser_step(event: Event, cause: int) -> _Step:
    payload = event.payload
    action = str_of(payload.get("action"))
    selector = _normalise(payload.get("selector"))
    value = _normalise(payload.get("value"))
    error = mapping_of(payload.get("error"))
    outcome = short_hash(
        [
            payload.get("status"),
            scalar_text(error.get("message")) if error else payload.get("error"),
            payload.get("screenshot_digest"),
            payload.get("dom_digest"),
        ]
    )
    return _Step(
        seq=event.seq,
        cause=cause,
        action=short_hash(["browser", action, selector, value]),
        shown=f"browser.{action}",
        tool=None,
        call_id=None,
        outcome=outcome,
        resolved=True,
    )


def _parsed(arguments: object) -> object:
    if isinstance(arguments, str) and arguments.strip()[:1] in ("{", "["):
        try:
            return json.loads(arguments)
        except (ValueError, RecursionError):
            return arguments
    return arguments


def _normalise(value: Any) -> Any:
    """Arguments compared as meaning, not bytes: key order and whitespace runs do not count."""
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, dict):
        return {str(key): _normalise(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(item) for item in value]
    mapping = mapping_of(value)
    if mapping is not None:
        return {str(key): _normalise(item) for key, item in mapping.items()}
    return value if value is None or isinstance(value, bool | int | float) else canonical_json(value)
