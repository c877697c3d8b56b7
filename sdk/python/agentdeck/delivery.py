"""The background delivery thread: a bounded buffer, batching by count, bytes and time, and counts.

Callers only take a lock and append to a queue; serialising and every network call happen on the
delivery thread. The buffer holds at most `max_buffer` events, counting those queued *and* those in
flight (being sent or retried). Full policy: the new event is dropped and counted (the session's seq
still advances, so the gap shows where); a session's end is never dropped; once there is room
again, the session gets a `log` event saying how many of its events were dropped.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import httpx

from agentdeck.transport import GaveUp, Transport

log = logging.getLogger("agentdeck")

# The server's limits are 1,000 events and 5 MiB a request; keep a margin for the envelope.
MAX_BATCH_EVENTS = 1000
MAX_BATCH_BYTES = 5 * 1024 * 1024 - 64 * 1024


@dataclass(frozen=True)
class Rejection:
    trace_id: str
    seq: int | None
    code: str
    reason: str


@dataclass(frozen=True)
class Counts:
    """Events settled: stored now, already stored (a replay), refused by the server, dropped by the SDK."""

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    dropped: int = 0
    rejections: tuple[Rejection, ...] = ()
    pending: int = 0  # still buffered (queued or being retried) when the counts were taken


@dataclass(frozen=True)
class Stats(Counts):
    dropped_buffer_full: int = 0
    dropped_undelivered: int = 0  # still unsent when the tracer closed (or delivery failed)
    retries: int = 0


@dataclass
class SessionState:
    """What the delivery side knows of one session; mutated only under the delivery lock."""

    trace_id: str
    next_seq: int = 0
    dropped: int = 0  # dropped and not yet reported in the session
    first_dropped: int | None = None
    last_dropped: int | None = None
    failed: Rejection | None = None  # the create was refused: its events cannot land


@dataclass
class _Item:
    kind: str  # "create" | "event" | "artifact"
    state: SessionState
    body: dict[str, Any]
    ticket: int = 0
    settled: bool = False
    upload: tuple[bytes, str, str] | None = None  # artifact: data, kind, content type
    future: Future[dict[str, Any]] | None = None


@dataclass
class _Batch:
    items: list[_Item] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    size: int = 0


class Delivery:
    def __init__(self, transport_factory: Callable[[threading.Event, Callable[[str], None]], Transport], *,
                 max_buffer: int, flush_interval: float) -> None:
        # Re-entrant: a stream abandoned to the garbage collector records itself from wherever GC runs.
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._settled = threading.Condition(self._lock)
        self._queue: deque[_Item] = deque()
        self._max_buffer = max_buffer
        self._flush_interval = flush_interval
        self._held = 0
        self._ticket = 0
        self._done_ticket = 0
        self._flush_wanted = False
        self._closing = False
        self._stop = threading.Event()
        self._totals = {"accepted": 0, "duplicates": 0, "rejected": 0, "dropped_buffer_full": 0,
                        "dropped_undelivered": 0, "retries": 0}
        self._rejections: list[Rejection] = []
        self._reported = Counts()
        self._transport = transport_factory(self._stop, self._count_retry)
        self._thread = threading.Thread(target=self._run, name="agentdeck-delivery", daemon=True)
        self._thread.start()

    # --- caller side (never blocks on the network) -------------------------------------------------------

    def create(self, state: SessionState, body: dict[str, Any]) -> None:
        with self._lock:
            self._append(_Item("create", state, body))

    def emit(self, state: SessionState, event: dict[str, Any], *, keep: bool = False) -> int:
        """Queue an event (its seq is assigned here); returns the seq. `keep`: never dropped (session.end)."""
        with self._lock:
            self._report_drops(state, force=keep)
            return self._emit_locked(state, event, keep=keep)

    def artifact(self, state: SessionState, data: bytes, kind: str, content_type: str) -> Future[dict[str, Any]]:
        future: Future[dict[str, Any]] = Future()
        with self._lock:
            self._report_drops(state, force=False)
            seq = self._emit_locked(state, {"type": "artifact"}, keep=False, upload=(data, kind, content_type),
                                    future=future)
        if seq < 0:
            future.set_exception(BufferFull("the SDK buffer is full: the artifact was dropped"))
        return future

    def _emit_locked(self, state: SessionState, event: dict[str, Any], *, keep: bool,
                     upload: tuple[bytes, str, str] | None = None, future: Future[dict[str, Any]] | None = None) -> int:
        seq = state.next_seq
        state.next_seq += 1
        if not keep and self._held >= self._max_buffer:
            self._totals["dropped_buffer_full"] += 1
            if state.dropped == 0:
                log.warning("agentdeck: buffer full (%d events): dropping events of %s", self._max_buffer,
                            state.trace_id)
            state.dropped += 1
            state.first_dropped = seq if state.first_dropped is None else state.first_dropped
            state.last_dropped = seq
            return -1
        body = {"seq": seq, "idempotency_key": f"{state.trace_id}:{seq}", **event}
        self._held += 1
        self._append(_Item("artifact" if upload else "event", state, body, upload=upload, future=future))
        return seq

    def _report_drops(self, state: SessionState, *, force: bool) -> None:
        if state.dropped and (force or self._held < self._max_buffer):
            message = f"agentdeck SDK dropped {state.dropped} event(s) of this session: its buffer was full"
            log.warning("agentdeck: %s (%s)", message, state.trace_id)
            self._emit_locked(state, {"type": "log", "payload": {
                "level": "warning", "message": message, "dropped": state.dropped,
                "first_dropped_seq": state.first_dropped, "last_dropped_seq": state.last_dropped}}, keep=True)
            state.dropped, state.first_dropped, state.last_dropped = 0, None, None

    def _append(self, item: _Item) -> None:
        self._ticket += 1
        item.ticket = self._ticket
        self._queue.append(item)
        self._wake.notify()

    # --- flush and close ----------------------------------------------------------------------------------

    def flush(self, timeout: float | None) -> Counts:
        """Wait until everything queued before the call is settled; the counts since the previous flush."""
        with self._lock:
            target = self._ticket
            self._flush_wanted = True
            self._wake.notify()
            self._settled.wait_for(lambda: self._done_ticket >= target, timeout)
            return self._since_reported()

    def _since_reported(self) -> Counts:
        totals = self._snapshot()
        previous, self._reported = self._reported, totals
        return Counts(
            accepted=totals.accepted - previous.accepted,
            duplicates=totals.duplicates - previous.duplicates,
            rejected=totals.rejected - previous.rejected,
            dropped=totals.dropped - previous.dropped,
            rejections=totals.rejections[len(previous.rejections):],
            pending=totals.pending,
        )

    def stats(self) -> Stats:
        with self._lock:
            return self._snapshot()

    def close(self, timeout: float) -> Counts:
        """Flush for up to `timeout`, then stop: what is still unsent is counted as dropped."""
        with self._lock:
            target = self._ticket
            self._flush_wanted = True
            self._wake.notify()
            self._settled.wait_for(lambda: self._done_ticket >= target, timeout)
            self._closing = True
            self._wake.notify()
        self._stop.set()  # a retry still waiting gives up
        self._thread.join(timeout=5)
        self._transport.close()
        with self._lock:
            return self._since_reported()

    def _snapshot(self) -> Stats:
        t = self._totals
        return Stats(
            accepted=t["accepted"], duplicates=t["duplicates"], rejected=t["rejected"],
            dropped=t["dropped_buffer_full"] + t["dropped_undelivered"], rejections=tuple(self._rejections),
            pending=self._held, dropped_buffer_full=t["dropped_buffer_full"],
            dropped_undelivered=t["dropped_undelivered"],
            retries=t["retries"],
        )

    def _count_retry(self, reason: str) -> None:
        with self._lock:
            self._totals["retries"] += 1
        log.info("agentdeck: delivery will be retried (%s)", reason)

    # --- the delivery thread ------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._lock:
                self._wake.wait_for(lambda: bool(self._queue) or self._closing)
                if not self._queue and self._closing:
                    return
                # Batch by time: give a lone event a moment's company unless a flush or close waits.
                if not (self._flush_wanted or self._closing) and len(self._queue) < MAX_BATCH_EVENTS:
                    self._wake.wait_for(lambda: self._flush_wanted or self._closing
                                        or len(self._queue) >= MAX_BATCH_EVENTS, self._flush_interval)
                items = list(self._queue)
                self._queue.clear()
                self._flush_wanted = False
            try:
                self._deliver(items)
            except GaveUp:
                pass
            except Exception:  # noqa: BLE001 — the thread must survive anything; what was lost is counted
                log.exception("agentdeck: delivery failed")
            with self._lock:
                lost = sum(1 for item in items if item.kind != "create" and not item.settled)
                self._totals["dropped_undelivered"] += lost
                self._held -= lost
                self._done_ticket = items[-1].ticket
                self._settled.notify_all()

    def _deliver(self, items: list[_Item]) -> None:
        batches: dict[str, _Batch] = {}
        for item in items:
            trace_id = item.state.trace_id
            if item.kind == "create":
                self._create(item)
            elif item.kind == "artifact":
                self._send(batches.pop(trace_id, None))
                self._upload(item)
                self._add(batches, item)
            else:
                self._add(batches, item)
        for batch in batches.values():
            self._send(batch)

    def _add(self, batches: dict[str, _Batch], item: _Item) -> None:
        if item.state.failed is not None:
            self._settle([item], rejected=item.state.failed)
            return
        text = json.dumps(item.body, default=str, separators=(",", ":"))
        if len(text) > MAX_BATCH_BYTES:
            self._settle([item], rejected=Rejection(item.state.trace_id, item.body["seq"], "too_large",
                                                    "the event alone exceeds the server's 5 MiB request limit"))
            return
        batch = batches.setdefault(item.state.trace_id, _Batch())
        if len(batch.items) >= MAX_BATCH_EVENTS or batch.size + len(text) + 1 > MAX_BATCH_BYTES:
            self._send(batch)
            batch = batches[item.state.trace_id] = _Batch()
        batch.items.append(item)
        batch.texts.append(text)
        batch.size += len(text) + 1

    def _create(self, item: _Item) -> None:
        response = self._transport.request("POST", "/api/traces", json=item.body)
        if response.status_code >= 400:
            rejection = _rejection(item.state.trace_id, None, response)
            log.error("agentdeck: session %s was refused: %s", item.state.trace_id, rejection.reason)
            item.state.failed = rejection

    def _upload(self, item: _Item) -> None:
        assert item.upload is not None and item.future is not None
        data, kind, content_type = item.upload
        if item.state.failed is not None:
            item.future.set_exception(Refused(item.state.failed))
            return
        response = self._transport.request(
            "POST", f"/api/traces/{item.state.trace_id}/artifacts", params={"kind": kind}, content=data,
            headers={"Content-Type": content_type})
        if response.status_code >= 400:
            rejection = _rejection(item.state.trace_id, item.body["seq"], response)
            item.future.set_exception(Refused(rejection))
            self._settle([item], rejected=rejection)
            return
        artifact = response.json()
        item.future.set_result(artifact)
        item.body["payload"] = {**artifact}

    def _send(self, batch: _Batch | None) -> None:
        if batch is None or not batch.items:
            return
        trace_id = batch.items[0].state.trace_id
        body = '{"events":[' + ",".join(batch.texts) + "]}"
        response = self._transport.request("POST", f"/api/traces/{trace_id}/events", content=body.encode(),
                                           headers={"Content-Type": "application/json"})
        if response.status_code != 200:
            self._settle(batch.items, rejected=_rejection(trace_id, None, response))
            return
        result = response.json()
        refused = {r["index"]: r for r in result.get("rejected", [])}
        accepted = [item for index, item in enumerate(batch.items) if index not in refused]
        with self._lock:
            self._totals["accepted"] += result.get("accepted", 0)
            self._totals["duplicates"] += result.get("duplicates", 0)
        self._settle(accepted)
        for index, rejection in refused.items():
            item = batch.items[index]
            self._settle([item], rejected=Rejection(trace_id, item.body["seq"], rejection.get("code", "rejected"),
                                                    rejection.get("reason", "")))

    def _settle(self, items: list[_Item], rejected: Rejection | None = None) -> None:
        with self._lock:
            for item in items:
                item.settled = True
                self._held -= 1
                if rejected is not None:
                    self._totals["rejected"] += 1
                    self._rejections.append(Rejection(item.state.trace_id, item.body.get("seq"), rejected.code,
                                                      rejected.reason))
        if rejected is not None:
            log.warning("agentdeck: %d event(s) of %s rejected: %s (%s)", len(items), rejected.trace_id,
                        rejected.code, rejected.reason)


class BufferFull(Exception):
    """The SDK's buffer was full when the item was emitted."""


class Refused(Exception):
    """The server refused the request."""

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(f"{rejection.code}: {rejection.reason}")
        self.rejection = rejection


def _rejection(trace_id: str, seq: int | None, response: httpx.Response) -> Rejection:
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    return Rejection(trace_id, seq, str(error.get("code") or f"http_{response.status_code}"),
                     str(error.get("message") or response.reason_phrase))
