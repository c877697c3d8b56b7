"""Bounded memory: a 100,000-event session is analysed from a generator, never held as a list."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

from api.detectors import analyze

EVENTS = 100_000


class TrackedEvent(dict[str, Any]):
    """A plain event mapping that can be weakly referenced, to see whether anything keeps it."""


class EventStream:
    """Yields a long, varied session and records how many yielded events are still alive."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.yielded = 0
        self.max_alive = 0
        self._refs: list[weakref.ref[TrackedEvent]] = []

    def __iter__(self) -> Iterator[TrackedEvent]:
        for seq in range(self.count):
            event = TrackedEvent(self._event(seq))
            self._refs.append(weakref.ref(event))
            self.yielded += 1
            if seq % 5_000 == 0:
                self._count_alive()
            yield event
        self._count_alive()

    def _count_alive(self) -> None:
        alive = sum(1 for ref in self._refs if ref() is not None)
        self.max_alive = max(self.max_alive, alive)
        self._refs = [ref for ref in self._refs if ref() is not None]

    def _event(self, seq: int) -> dict[str, Any]:
        if seq == 0:
            return {"seq": 0, "type": "session.start", "payload": {"tools": ["search", "python", "fetch"]}}
        if seq == self.count - 2:
            return {
                "seq": seq,
                "type": "tool.result",
                "ts": seq,
                "payload": {"tool": "fetch", "status": "error", "error": {"status": 429, "message": "slow down"}},
            }
        if seq == self.count - 1:
            return {"seq": seq, "type": "session.end", "payload": {"outcome": "failure"}}
        step = seq % 10
        tool = ("search", "python", "fetch")[seq % 3]
        if step in (0, 2, 4, 6):
            return {"seq": seq, "type": "tool.call", "payload": {"tool": tool, "arguments": {"n": seq}}}
        if step in (1, 3, 5, 7):
            status = "error" if seq % 70 == 1 else "ok"
            return {"seq": seq, "type": "tool.result", "payload": {"tool": tool, "status": status, "output": seq}}
        if step == 8:
            return {
                "seq": seq,
                "type": "browser.action",
                "payload": {"action": "click", "status": "ok", "screenshot_digest": f"s{seq}"},
            }
        return {"seq": seq, "type": "llm.response", "payload": {"model": "m", "usage": {}, "content": f"step {seq}"}}


def test_hundred_thousand_events_are_streamed_through_with_bounded_memory() -> None:
    stream = EventStream(EVENTS)
    analysis = analyze(iter(stream))
    assert stream.yielded == EVENTS
    assert stream.max_alive <= 2  # the event being read, and at most the one before it
    assert analysis["critical_step"]["observed_seq"] == EVENTS - 2
    assert analysis["critical_step"]["label"] == "rate_limited"
    assert len(analysis["labels"]) <= 100


def test_events_are_consumed_exactly_once() -> None:
    consumed = 0

    def once() -> Iterator[dict[str, Any]]:
        nonlocal consumed
        for seq in range(1_000):
            consumed += 1
            yield {"seq": seq, "type": "log", "payload": {"level": "info", "message": "tick"}}

    analyze(once())
    assert consumed == 1_000
