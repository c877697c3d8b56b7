"""api.append_events has a fast path (a batch of new events in order) and the event-by-event
classification: whichever runs, every outcome must be what the SPEC's rules give. Random batches of
replays, conflicts, reordered seqs and session ends are checked against a model of those rules, and
events stored with the pre-0012 SQL hash are still recognised as replays."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.config import Settings
from tests.support.tenants import Tenant, make_tenant

_trace_ids = itertools.count()


@dataclass
class SessionModel:
    """The SPEC's ingest rules, event by event, for one session."""

    trace_id: str
    stored: dict[str, tuple[int, str]] = field(default_factory=dict)  # key -> (seq, content)
    last_seq: int = -1
    ended: bool = False

    def append(self, batch: list[dict[str, Any]]) -> tuple[int, int, list[tuple[int, str]]]:
        running_max, ended = self.last_seq, self.ended
        stored_seqs = {seq for seq, _ in self.stored.values()}
        outcomes: list[str] = []
        first_with_key: dict[str, int] = {}
        accepted_seqs: set[int] = set()
        new: dict[str, tuple[int, str]] = {}
        for i, event in enumerate(batch):
            key = event.get("idempotency_key") or f"{self.trace_id}:{event['seq']}"
            content = json.dumps({k: v for k, v in event.items() if k != "idempotency_key"}, sort_keys=True)
            if key in self.stored:
                code = "duplicate" if self.stored[key][1] == content else "idempotency_conflict"
            elif key in first_with_key:
                first = first_with_key[key]
                first_content = json.dumps({k: v for k, v in batch[first].items() if k != "idempotency_key"},
                                           sort_keys=True)
                code = ("idempotency_conflict" if first_content != content
                        else "duplicate" if outcomes[first] in ("accepted", "duplicate") else outcomes[first])
            elif event["seq"] in stored_seqs or event["seq"] in accepted_seqs:
                code = "seq_conflict"
            elif ended:
                code = "session_ended"
            elif event["seq"] <= running_max:
                code = "seq_not_monotonic"
            else:
                code = "accepted"
                running_max = event["seq"]
                accepted_seqs.add(event["seq"])
                new[key] = (event["seq"], content)
                ended = ended or event["type"] == "session.end"
            first_with_key.setdefault(key, i)
            outcomes.append(code)
        self.stored.update(new)
        self.last_seq, self.ended = running_max, ended
        rejected = [(i, code) for i, code in enumerate(outcomes) if code not in ("accepted", "duplicate")]
        return outcomes.count("accepted"), outcomes.count("duplicate"), rejected


events = st.builds(
    lambda seq, key, value, end: {
        "seq": seq, "type": "session.end" if end else "log",
        "payload": {"outcome": "success"} if end else {"level": "info", "message": f"m{value}"},
        **({"idempotency_key": key} if key else {}),
    },
    st.integers(0, 7), st.sampled_from([None, None, None, "k1", "k2"]), st.integers(0, 1),
    st.sampled_from([False, False, False, False, True]),
)
# Mostly ascending runs (the fast path) with the occasional replay, conflict, reorder or end.
ascending = st.integers(0, 3).flatmap(lambda start: st.integers(1, 6).map(
    lambda n: [{"seq": s, "type": "log", "payload": {"level": "info", "message": f"m{s}"}}
               for s in range(start, start + n)]))
batches = st.lists(st.one_of(ascending, st.lists(events, min_size=1, max_size=6)), min_size=1, max_size=3)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=batches)
def test_every_batch_gets_the_outcomes_the_rules_give(client: httpx.Client, tenant: Tenant,
                                                      batches: list[list[dict[str, Any]]]) -> None:
    model = SessionModel(f"outcomes-{next(_trace_ids)}")
    assert client.post("/api/traces", json={"id": model.trace_id}, headers=tenant.key()).status_code == 201
    for batch in batches:
        response = client.post(f"/api/traces/{model.trace_id}/events", json={"events": batch}, headers=tenant.key())
        assert response.status_code == 200, response.text
        body = response.json()
        accepted, duplicates, rejected = model.append(batch)
        assert (body["accepted"], body["duplicates"]) == (accepted, duplicates), (batch, body)
        assert [(r["index"], r["code"]) for r in body["rejected"]] == rejected, (batch, body)
    page = client.get(f"/api/traces/{model.trace_id}/events", headers=tenant.key()).json()
    assert [e["seq"] for e in page["events"]] == sorted(seq for seq, _ in model.stored.values())
    positions = [e["position"] for e in page["events"]]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)


def test_events_stored_with_the_legacy_sql_hash_are_still_replays(
    client: httpx.Client, tenant: Tenant, database_url: str
) -> None:
    async def store_as_before_0012(event: dict[str, Any]) -> None:
        conn = await asyncpg.connect(database_url)
        try:
            # What the pre-0012 API sent for this event, hashed as SQL hashed it then.
            sent = {"index": 0, "idempotency_key": None, "name": None, "ts": None, "parent_seq": None, **event}
            await conn.execute(
                "insert into app.events (workspace_id, project_id, trace_id, seq, idempotency_key, type, payload,"
                " content_hash) values ($1, $2, 'legacy-1', $3, $4, $5, $6::jsonb,"
                " sha256(convert_to(($7::jsonb - 'index' - 'idempotency_key')::text, 'UTF8')))",
                tenant.workspace_id, tenant.projects[0], event["seq"], f"legacy-1:{event['seq']}", event["type"],
                json.dumps(event["payload"]), json.dumps(sent))
            await conn.execute("update app.trace_sessions set last_seq = $2 where trace_id = 'legacy-1'"
                               " and workspace_id = $1", tenant.workspace_id, event["seq"])
        finally:
            await conn.close()

    old = {"seq": 0, "type": "log", "payload": {"level": "info", "message": "before the upgrade"}}
    assert client.post("/api/traces", json={"id": "legacy-1"}, headers=tenant.key()).status_code == 201
    asyncio.run(store_as_before_0012(old))
    replay = client.post("/api/traces/legacy-1/events", json=old, headers=tenant.key())
    assert replay.status_code == 200, replay.text
    changed = {**old, "payload": {"level": "info", "message": "something else"}}
    conflict = client.post("/api/traces/legacy-1/events", json=changed, headers=tenant.key())
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "idempotency_conflict"


def test_deleting_a_project_deletes_its_sessions_events(client: httpx.Client, database_url: str,
                                                          settings: Settings) -> None:
    doomed = make_tenant(database_url, settings, project_count=1)
    assert client.post("/api/traces", json={"id": "doomed-1"}, headers=doomed.key()).status_code == 201
    batch = {"events": [{"seq": s, "type": "log", "payload": {"level": "info", "message": "x"}} for s in range(3)]}
    assert client.post("/api/traces/doomed-1/events", json=batch, headers=doomed.key()).json()["accepted"] == 3

    async def delete_project() -> int:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute("delete from app.projects where workspace_id = $1", doomed.workspace_id)
            remaining: int = await conn.fetchval("select count(*) from app.events where workspace_id = $1",
                                                 doomed.workspace_id)
            return remaining
        finally:
            await conn.close()

    assert asyncio.run(delete_project()) == 0


def test_payloads_with_integers_beyond_64_bits_are_stored_and_replayed(client: httpx.Client, tenant: Tenant) -> None:
    assert client.post("/api/traces", json={"id": "huge-1"}, headers=tenant.key()).status_code == 201
    event = {"seq": 0, "type": "custom.counter", "payload": {"value": 2**70, "nested": [{"n": -(2**80)}]}}
    assert client.post("/api/traces/huge-1/events", json=event, headers=tenant.key()).status_code == 201
    assert client.post("/api/traces/huge-1/events", json=event, headers=tenant.key()).status_code == 200
    stored = client.get("/api/traces/huge-1/events", headers=tenant.key()).json()["events"]
    assert [e["payload"] for e in stored] == [event["payload"]]
