"""Input that used to get a 500 or be stored wrong: each gets a clear 4xx and changes nothing."""

from __future__ import annotations

import re
import time

import httpx
import jwt
import pytest

from tests.api.conftest import JWT_SECRET, SERVICE_TOKEN
from tests.support.tenants import Tenant

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def create(client: httpx.Client, tenant: Tenant, trace_id: str) -> None:
    assert client.post("/api/traces", json={"id": trace_id}, headers=tenant.key()).status_code == 201


def raw(client: httpx.Client, method: str, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return client.request(method, path, content=body, headers={**headers, "Content-Type": "application/json"})


@pytest.mark.parametrize("method,path", [("POST", "/api/traces"), ("POST", "/api/traces/deep/events"),
                                         ("PUT", "/api/traces/deep/analysis"), ("PATCH", "/api/incidents/inc_x")])
def test_json_nested_a_thousand_deep_is_400_in_any_body(client: httpx.Client, tenant: Tenant, method: str,
                                                        path: str) -> None:
    headers = tenant.service(SERVICE_TOKEN) if method == "PUT" else tenant.user("member")
    for depth in (65, 1000, 100_000):
        body = f'{{"payload": {nested(depth)}}}'.encode()
        response = raw(client, method, path, body, headers)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "too_deep"


def test_events_nested_within_the_limit_are_stored(client: httpx.Client, tenant: Tenant) -> None:
    create(client, tenant, "deep-ok")
    payload = {"v": 1}
    for _ in range(60):  # body, events, event and payload levels come on top: 64 in all
        payload = {"v": payload}
    response = client.post("/api/traces/deep-ok/events", headers=tenant.key(),
                           json={"events": [{"seq": 1, "type": "custom.deep", "payload": payload}]})
    assert response.json()["accepted"] == 1, response.text


def test_raw_utf8_bytes_of_a_lone_surrogate_are_400_and_store_nothing(client: httpx.Client, tenant: Tenant) -> None:
    create(client, tenant, "surrogate")
    body = b'{"seq": 1, "type": "log", "payload": {"level": "info", "message": "\xed\xa0\x80"}}'
    response = raw(client, "POST", "/api/traces/surrogate/events", body, tenant.key())
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed_json"
    assert client.get("/api/traces/surrogate/events", headers=tenant.key()).json()["events"] == []


@pytest.mark.parametrize("method,path", [("POST", "/api/traces/nul/events"), ("POST", "/api/traces/nul/analyze"),
                                         ("GET", "/api/traces/nul/analysis")])
def test_nul_in_project_id_is_400(client: httpx.Client, tenant: Tenant, method: str, path: str) -> None:
    response = client.request(method, path, params={"project_id": "proj_\x00"}, headers=tenant.user("member"),
                              json={"seq": 1, "type": "log", "payload": {"level": "info", "message": "x"}})
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_query", response.text


@pytest.mark.parametrize("value", ["2026-01-01T00:00:00+16:00", "2026-01-01T00:00:00-23:59",
                                   "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1969-12-31T23:59:59Z",
                                   "2026-01-01T00:00:00", "2026-01-01"])
def test_since_and_until_outside_the_documented_range_are_400(client: httpx.Client, tenant: Tenant,
                                                              value: str) -> None:
    for name in ("since", "until"):
        response = client.get("/api/sessions", params={name: value}, headers=tenant.key())
        assert response.status_code == 400 and response.json()["error"]["code"] == "bad_query", response.text


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-01-01T00:00:00+16:00",
                                   0, 1_700_000_000, "1969-12-31T23:59:59Z", "10000-01-01T00:00:00Z"])
def test_started_at_outside_the_range_or_as_a_number_is_422_and_creates_nothing(
    client: httpx.Client, tenant: Tenant, value: object,
) -> None:
    response = client.post("/api/traces", json={"id": "bad-start", "started_at": value}, headers=tenant.key())
    assert response.status_code == 422, response.text
    assert client.get("/api/traces/bad-start/events", headers=tenant.key()).status_code == 404


def test_timestamps_at_the_edges_of_the_range_are_stored_and_listed_as_rfc3339(client: httpx.Client,
                                                                               tenant: Tenant) -> None:
    first = client.post("/api/traces", json={"id": "edge-early", "started_at": "1970-01-01T00:00:00+14:00"},
                        headers=tenant.key())
    last = client.post("/api/traces", json={"id": "edge-late", "started_at": "9998-12-31T23:59:59.999999-15:59"},
                       headers=tenant.key())
    assert first.status_code == 201 and last.status_code == 201, (first.text, last.text)
    assert first.json()["started_at"].startswith("1969-12-31T10:00:00")
    listed = client.get("/api/sessions", headers=tenant.key()).json()["sessions"]
    assert {"edge-early", "edge-late"} <= {s["id"] for s in listed}
    for row in listed:
        assert RFC3339.match(row["started_at"]) and RFC3339.match(row["created_at"]), row


def test_ts_near_the_datetime_limits_is_rejected_at_its_index_and_siblings_are_stored(
    client: httpx.Client, tenant: Tenant,
) -> None:
    create(client, tenant, "edge-ts")
    log = {"level": "info", "message": "x"}
    batch = [
        {"seq": 1, "type": "log", "payload": log, "ts": "2026-01-01T00:00:00Z"},
        {"seq": 2, "type": "log", "payload": log, "ts": "0001-01-01T00:00:00+14:00"},
        {"seq": 3, "type": "log", "payload": log, "ts": "2026-01-01T00:00:01+05:30"},
        {"seq": 4, "type": "log", "payload": log, "ts": "9999-12-31T23:59:59-14:00"},
        {"seq": 5, "type": "log", "payload": log, "ts": 0},
    ]
    result = client.post("/api/traces/edge-ts/events", json={"events": batch}, headers=tenant.key()).json()
    assert result["accepted"] == 2
    assert [(r["index"], r["code"]) for r in result["rejected"]] == [(1, "invalid"), (3, "invalid"), (4, "invalid")]
    stored = client.get("/api/traces/edge-ts/events", headers=tenant.key()).json()["events"]
    assert [(e["seq"], e["ts"]) for e in stored] == [(1, "2026-01-01T00:00:00+00:00"),
                                                     (3, "2025-12-31T18:30:01+00:00")]


def token(**claims: object) -> dict[str, str]:
    now = int(time.time())
    body = {"sub": "00000000-0000-4000-8000-000000000001", "role": "authenticated", "aud": "authenticated",
            "iat": now, "exp": now + 600, **claims}
    return {"Authorization": f"Bearer {jwt.encode(body, JWT_SECRET, algorithm='HS256')}"}


@pytest.mark.parametrize("claims", [
    {"sub": "urn:uuid:00000000-0000-4000-8000-000000000001"},
    {"sub": "{00000000-0000-4000-8000-000000000001}"},
    {"sub": "00000000000040008000000000000001"},
    {"exp": str(int(time.time()) + 600)},
    {"exp": 10**30},
    {"iat": "1700000000"},
])
def test_signed_tokens_with_unusable_claims_are_401(client: httpx.Client, claims: dict[str, object]) -> None:
    response = client.get("/api/sessions", headers=token(**claims))
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_an_uppercase_user_id_is_accepted(client: httpx.Client, tenant: Tenant) -> None:
    response = client.get("/api/sessions", headers=token(sub=tenant.users["member"].upper()))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("path", ["//evil.example/x.png", " https://evil.example/x.png", "javascript:alert(1)",
                                  "data:image/png;base64,AAAA", "\\\\evil\\share", "\thttp://x"])
def test_artifact_events_carrying_any_form_of_url_are_rejected(client: httpx.Client, tenant: Tenant,
                                                               path: str) -> None:
    create(client, tenant, "art-url")
    event = {"seq": 1, "type": "artifact", "payload": {"artifact_id": "art_1", "storage_path": path}}
    response = client.post("/api/traces/art-url/events", json=event, headers=tenant.key())
    assert response.status_code == 422, response.text


def test_duplicate_object_keys_keep_the_last_value_as_documented(client: httpx.Client, tenant: Tenant) -> None:
    create(client, tenant, "dup-keys")
    body = b'{"seq": 1, "type": "log", "payload": {"level": "info", "message": "first", "message": "last"}}'
    assert raw(client, "POST", "/api/traces/dup-keys/events", body, tenant.key()).status_code == 201
    event = client.get("/api/traces/dup-keys/events", headers=tenant.key()).json()["events"][0]
    assert event["payload"] == {"level": "info", "message": "last"}
    # The same event written without the duplicate is an exact replay of what was stored.
    replay = {"seq": 1, "type": "log", "payload": {"level": "info", "message": "last"}}
    assert client.post("/api/traces/dup-keys/events", json=replay, headers=tenant.key()).status_code == 200


def test_integers_beyond_64_bits_are_stored_exactly(client: httpx.Client, tenant: Tenant) -> None:
    # The fast JSON reader would turn these into floats; the body must be read by one that does not.
    create(client, tenant, "wide-ints")
    wide = [2**64, -(2**63) - 1, 10**30, 2**63 - 1]
    body = b'{"seq": 1, "type": "custom.wide", "payload": {"n": [%s]}}' % ", ".join(map(str, wide)).encode()
    assert raw(client, "POST", "/api/traces/wide-ints/events", body, tenant.key()).status_code == 201
    event = client.get("/api/traces/wide-ints/events", headers=tenant.key()).json()["events"][0]
    assert event["payload"] == {"n": wide}


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_numbers_json_cannot_hold_are_400_and_store_nothing(client: httpx.Client, tenant: Tenant,
                                                            number: bytes) -> None:
    create(client, tenant, "non-finite")
    body = b'{"seq": 1, "type": "custom.number", "payload": {"n": %s}}' % number
    response = raw(client, "POST", "/api/traces/non-finite/events", body, tenant.key())
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed_json", response.text
    assert client.get("/api/traces/non-finite/events", headers=tenant.key()).json()["events"] == []


def test_a_trailing_slash_is_404_without_echoing_the_host(client: httpx.Client, tenant: Tenant) -> None:
    response = client.get("/api/sessions/", headers={**tenant.key(), "Host": "evil.example"})
    assert response.status_code == 404 and "location" not in response.headers
    assert response.json()["error"]["code"] == "not_found"
