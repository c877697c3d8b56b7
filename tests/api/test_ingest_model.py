"""Ingest classification against a simple model of the documented rules (docs/events.md).

Random batches drawn from a small pool of seqs, keys, contents and timestamps, so replays,
conflicts, out-of-order seqs, session ends and invalid events all happen often. After every batch
the answer (counts and rejections by index) and the stored rows must be what the model says.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.support.tenants import Tenant

_traces = itertools.count()

event = st.fixed_dictionaries(
    {"seq": st.integers(min_value=0, max_value=6), "type": st.sampled_from(["log", "log", "log", "session.end"])},
    optional={
        "idempotency_key": st.sampled_from(["k-a", "k-b"]),
        "ts": st.sampled_from(["2026-01-01T10:00:03Z", "2026-01-01T11:00:03+01:00", "2026-01-01T10:00:04Z"]),
        "message": st.sampled_from(["one", "two"]),
        "invalid": st.sampled_from(["bad-payload", "bad-ts", "negative-seq"]),
    },
)


def wire(drawn: dict[str, Any]) -> dict[str, Any]:
    """The event as a client sends it (the drawn `message` and `invalid` are instructions, not fields)."""
    body: dict[str, Any] = {k: drawn[k] for k in ("seq", "type", "idempotency_key", "ts") if k in drawn}
    if drawn["type"] == "session.end":
        body["payload"] = {"outcome": "success"}
    else:
        body["payload"] = {"level": "info", "message": drawn.get("message", "one")}
    match drawn.get("invalid"):
        case "bad-payload" if drawn["type"] == "log":
            body["payload"]["message"] = 42  # a log message is text
        case "bad-payload":
            body["payload"] = {"outcome": "maybe"}
        case "bad-ts":
            body["ts"] = "0001-01-01T00:00:00+14:00"
        case "negative-seq":
            body["seq"] = -1
    return body


@dataclass
class IngestModel:
    """The rules, in the order the docs give them, over what one session has stored."""

    trace_id: str
    stored: dict[str, tuple[int, tuple[Any, ...]]] = field(default_factory=dict)  # key -> (seq, content)
    last_seq: int = -1
    ended: bool = False

    def append(self, batch: list[dict[str, Any]]) -> tuple[int, int, list[tuple[int, str]]]:
        accepted, duplicates, rejected = 0, 0, []
        before = dict(self.stored)
        seqs_before = {seq for seq, _ in before.values()}
        in_batch: dict[str, tuple[tuple[Any, ...], str]] = {}  # key -> (content, outcome) of its first use
        accepted_seqs: set[int] = set()
        for index, body in enumerate(batch):
            if "invalid" in body:
                rejected.append((index, "invalid"))
                continue
            event = {k: v for k, v in body.items() if k != "invalid"}
            key = event.get("idempotency_key") or f"{self.trace_id}:{event['seq']}"
            content = self.content(event)
            if key in before:
                code = "duplicate" if before[key][1] == content else "idempotency_conflict"
            elif key in in_batch:
                first_content, first_outcome = in_batch[key]
                if first_content != content:
                    code = "idempotency_conflict"
                else:
                    code = "duplicate" if first_outcome in ("accepted", "duplicate") else first_outcome
            elif event["seq"] in seqs_before or event["seq"] in accepted_seqs:
                code = "seq_conflict"
            elif self.ended:
                code = "session_ended"
            elif event["seq"] <= self.last_seq:
                code = "seq_not_monotonic"
            else:
                code = "accepted"
                self.stored[key] = (event["seq"], content)
                self.last_seq = event["seq"]
                accepted_seqs.add(event["seq"])
                self.ended = self.ended or event["type"] == "session.end"
            in_batch.setdefault(key, (content, code))
            if code == "accepted":
                accepted += 1
            elif code == "duplicate":
                duplicates += 1
            else:
                rejected.append((index, code))
        return accepted, duplicates, rejected

    @staticmethod
    def content(event: dict[str, Any]) -> tuple[Any, ...]:
        ts = event.get("ts")
        instant = datetime.fromisoformat(ts).astimezone(UTC) if ts else None
        return (event["seq"], event["type"], instant, repr(sorted(event["payload"].items())))


def test_ingest_classification_matches_a_model_of_the_rules(client: httpx.Client, tenant: Tenant) -> None:
    @given(batches=st.lists(st.lists(event, min_size=1, max_size=6), min_size=1, max_size=4))
    @settings(max_examples=40, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def check(batches: list[list[dict[str, Any]]]) -> None:
        trace_id = f"model-{next(_traces)}"
        assert client.post("/api/traces", json={"id": trace_id}, headers=tenant.key()).status_code == 201
        model = IngestModel(trace_id)
        for drawn in batches:
            sent = [wire(e) for e in drawn]
            expected = model.append([{**body, "invalid": True} if "invalid" in d else body
                                     for d, body in zip(drawn, sent, strict=True)])
            answer = client.post(f"/api/traces/{trace_id}/events", json={"events": sent}, headers=tenant.key())
            assert answer.status_code == 200, answer.text
            result = answer.json()
            got = (result["accepted"], result["duplicates"], [(r["index"], r["code"]) for r in result["rejected"]])
            assert got == expected, (sent, result)
        events = client.get(f"/api/traces/{trace_id}/events", headers=tenant.key()).json()["events"]
        stored = sorted((seq, key, content) for key, (seq, content) in model.stored.items())
        assert [(e["seq"], e["idempotency_key"], model.content(e)) for e in events] == stored

    check()
