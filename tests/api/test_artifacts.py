"""Artifacts on the local backend: upload, register, events, signed downloads, and every refusal
leaving storage and the database as they were."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from api.app import create_app
from api.config import MAX_ARTIFACT_URL_TTL_SECONDS
from api.logs import formatter
from api.storage.backend import Grant
from api.storage.signing import UrlSigner
from tests.api.conftest import settings_for
from tests.support.artifacts import (
    JPEG_HEADER,
    SIGNING_KEY,
    artifact_event,
    artifact_rows,
    body_revoking_its_key_midway,
    files_under,
    new_trace,
    png,
    sha256_hex,
    upload_form,
    upload_raw,
)
from tests.support.server import RunningServer
from tests.support.tenants import Tenant

MAX_BYTES = 256 * 1024


@pytest.fixture(scope="module")
def local_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, Path]]:
    data_dir = tmp_path_factory.mktemp("artifact-data")
    settings = settings_for(database_url, AGENTDECK_DATA_DIR=str(data_dir), AGENTDECK_ARTIFACT_SIGNING_KEY=SIGNING_KEY,
                            AGENTDECK_ARTIFACT_MAX_BYTES=str(MAX_BYTES))
    with RunningServer(create_app(settings, database_url)) as running:
        yield running, data_dir / "artifacts"


@pytest.fixture
def http(local_server: tuple[RunningServer, Path]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=local_server[0].base_url, timeout=30) as client:
        yield client


@pytest.fixture
def root(local_server: tuple[RunningServer, Path]) -> Path:
    return local_server[1]


def state(database_url: str, tenant: Tenant, root: Path) -> tuple[object, ...]:
    return artifact_rows(database_url, tenant.workspace_id), files_under(root)


def signed_location(http: httpx.Client, artifact_id: str, headers: dict[str, str]) -> str:
    response = http.get(f"/artifacts/{artifact_id}", headers=headers)
    assert response.status_code == 302, response.text
    location: str = response.headers["location"]
    return location


def test_upload_then_event_then_signed_download_returns_the_same_bytes(
    http: httpx.Client, tenant: Tenant, database_url: str
) -> None:
    trace = new_trace(http, tenant.key())
    data = png(50_000)
    upload = upload_form(http, trace, tenant.key(), data, kind="screenshot", seq="1")
    assert upload.status_code == 201, upload.text
    created = upload.json()
    assert set(created) == {"artifact_id", "storage_path", "kind", "content_type", "size_bytes", "sha256"}
    assert (created["kind"], created["content_type"], created["size_bytes"], created["sha256"]) == (
        "screenshot", "image/png", len(data), sha256_hex(data))
    assert created["storage_path"].startswith(f"{tenant.workspace_id}/{tenant.projects[0]}/")
    assert "://" not in upload.text

    event = http.post(f"/api/traces/{trace}/events", json=artifact_event(1, created), headers=tenant.key())
    assert event.status_code == 201, event.text

    redirect = http.get(f"/artifacts/{created['artifact_id']}", headers=tenant.key())
    assert redirect.status_code == 302
    assert redirect.headers["cache-control"] == "no-store"
    download = httpx.get(http.base_url.join(redirect.headers["location"]))  # no credential but the URL
    assert download.status_code == 200
    assert download.content == data and sha256_hex(download.content) == created["sha256"]
    assert download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"] == f'inline; filename="{created["artifact_id"]}.png"'
    assert download.headers["x-content-type-options"] == "nosniff"


def test_raw_body_upload_takes_kind_and_seq_from_the_query(
    http: httpx.Client, tenant: Tenant, database_url: str
) -> None:
    trace = new_trace(http, tenant.key())
    data = b'{"dom": "<html></html>"}'
    upload = upload_raw(http, trace, tenant.key(), data, "application/json; charset=utf-8", kind="dom_snapshot",
                        seq="7")
    assert upload.status_code == 201, upload.text
    created = upload.json()
    assert (created["kind"], created["content_type"]) == ("dom_snapshot", "application/json")
    assert artifact_rows(database_url, tenant.workspace_id) == [
        (created["artifact_id"], created["storage_path"], len(data), sha256_hex(data))]
    location = signed_location(http, created["artifact_id"], tenant.key())
    download = httpx.get(http.base_url.join(location))
    assert download.content == data
    assert download.headers["content-disposition"].startswith("attachment;")


def _chunked(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), 16 * 1024):
        yield data[start:start + 16 * 1024]


@pytest.mark.parametrize("how", ["declared_length", "chunked", "multipart"])
def test_an_oversize_upload_is_413_and_leaves_nothing_behind(
    http: httpx.Client, tenant: Tenant, database_url: str, root: Path, how: str
) -> None:
    trace = new_trace(http, tenant.key())
    before = state(database_url, tenant, root)
    data = png(MAX_BYTES + 1)
    url = f"/api/traces/{trace}/artifacts"
    if how == "declared_length":
        response = upload_raw(http, trace, tenant.key(), data)
    elif how == "chunked":
        response = http.post(url, headers={**tenant.key(), "Content-Type": "image/png"}, content=_chunked(data))
    else:
        response = upload_form(http, trace, tenant.key(), data)
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] in ("artifact_too_large", "payload_too_large")
    assert state(database_url, tenant, root) == before


@pytest.mark.parametrize("content_type", ["text/html", "image/svg+xml", "application/octet-stream"])
def test_a_media_type_outside_the_allow_list_is_415_and_leaves_nothing_behind(
    http: httpx.Client, tenant: Tenant, database_url: str, root: Path, content_type: str
) -> None:
    trace = new_trace(http, tenant.key())
    before = state(database_url, tenant, root)
    for response in (upload_raw(http, trace, tenant.key(), b"<b>hi</b>", content_type),
                     upload_form(http, trace, tenant.key(), b"<b>hi</b>", content_type)):
        assert response.status_code == 415, response.text
        assert response.json()["error"]["code"] == "unsupported_media_type"
    assert state(database_url, tenant, root) == before


@pytest.mark.parametrize(("content_type", "data"), [
    ("image/png", JPEG_HEADER + b"\x00" * 1000),
    ("image/jpeg", png(1000)),
    ("image/webp", b"RIFF\x00\x00\x00\x00WAVE" + b"\x00" * 100),
    ("video/mp4", b"\x1a\x45\xdf\xa3" + b"\x00" * 100),
    ("video/webm", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100),
    ("image/png", b"\x89PN"),
])
def test_bytes_that_do_not_start_like_their_media_type_are_415_and_leave_nothing_behind(
    http: httpx.Client, tenant: Tenant, database_url: str, root: Path, content_type: str, data: bytes
) -> None:
    trace = new_trace(http, tenant.key())
    before = state(database_url, tenant, root)
    for response in (upload_raw(http, trace, tenant.key(), data, content_type),
                     upload_form(http, trace, tenant.key(), data, content_type)):
        assert response.status_code == 415, response.text
        assert response.json()["error"]["code"] == "signature_mismatch"
    assert state(database_url, tenant, root) == before


def test_each_signed_media_type_is_accepted_when_its_bytes_match(http: httpx.Client, tenant: Tenant) -> None:
    trace = new_trace(http, tenant.key())
    samples = {"image/png": png(100), "image/jpeg": JPEG_HEADER + b"\x00" * 100,
               "image/webp": b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 100,
               "video/webm": b"\x1a\x45\xdf\xa3" + b"\x00" * 100, "video/mp4": b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100}
    for content_type, data in samples.items():
        response = upload_raw(http, trace, tenant.key(), data, content_type)
        assert response.status_code == 201, (content_type, response.text)


def test_a_declared_sha256_that_the_bytes_do_not_match_is_422_and_leaves_nothing_behind(
    http: httpx.Client, tenant: Tenant, database_url: str, root: Path
) -> None:
    trace = new_trace(http, tenant.key())
    data = png(2000)
    before = state(database_url, tenant, root)
    wrong = sha256_hex(b"something else")
    for response in (upload_raw(http, trace, tenant.key(), data, sha256=wrong),
                     upload_form(http, trace, tenant.key(), data, sha256=wrong)):
        assert (response.status_code, response.json()["error"]["code"]) == (422, "content_mismatch")
    assert state(database_url, tenant, root) == before
    assert upload_form(http, trace, tenant.key(), data, sha256=sha256_hex(data)).status_code == 201


def test_a_form_must_end_with_its_file_and_name_only_known_fields(
    http: httpx.Client, tenant: Tenant, database_url: str, root: Path
) -> None:
    trace = new_trace(http, tenant.key())
    before = state(database_url, tenant, root)
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + png(500) + (
            f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nscreenshot\r\n"
            f"--{boundary}--\r\n").encode()
    headers = {**tenant.key(), "Content-Type": f"multipart/form-data; boundary={boundary}"}
    late_field = http.post(f"/api/traces/{trace}/artifacts", headers=headers, content=body)
    assert late_field.status_code == 422, late_field.text
    unknown = upload_form(http, trace, tenant.key(), png(500), url="https://example.invalid/x.png")
    assert unknown.status_code == 422
    truncated = http.post(f"/api/traces/{trace}/artifacts", headers=headers, content=body[:400])
    assert (truncated.status_code, truncated.json()["error"]["code"]) == (400, "malformed_multipart")
    assert state(database_url, tenant, root) == before


def test_an_upload_whose_recording_fails_removes_its_object(
    http: httpx.Client, tenant: Tenant, database_url: str, root: Path
) -> None:
    trace = new_trace(http, tenant.key())
    before = state(database_url, tenant, root)
    body = body_revoking_its_key_midway(database_url, tenant.key_ids[tenant.projects[0]], png(1000), b"\x00" * 1000)
    response = http.post(f"/api/traces/{trace}/artifacts", headers={**tenant.key(), "Content-Type": "image/png"},
                         content=body)
    assert response.status_code == 401, response.text
    assert state(database_url, tenant, root) == before


def test_a_tampered_signed_url_is_refused(http: httpx.Client, tenant: Tenant) -> None:
    trace = new_trace(http, tenant.key())
    first = upload_raw(http, trace, tenant.key(), png(300)).json()
    second = upload_raw(http, trace, tenant.key(), png(300)).json()
    location = signed_location(http, first["artifact_id"], tenant.key())
    path, query = urlsplit(location).path, {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert httpx.get(http.base_url.join(location)).status_code == 200
    signature = query["signature"]
    tampered = {
        "signature": {**query, "signature": signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")},
        "path": {**query, "path": second["storage_path"]},
        "type": {**query, "type": "text/html"},
        "expires": {**query, "expires": str(int(query["expires"]) + 1)},
        "non-ascii expiry": {**query, "expires": "\u00b2"},
        "missing signature": {k: v for k, v in query.items() if k != "signature"},
    }
    for what, params in tampered.items():
        response = httpx.get(http.base_url.join(f"{path}?{urlencode(params)}"))
        assert (response.status_code, response.json()["error"]["code"]) == (403, "invalid_signature"), what
        assert signature not in response.text
    other_artifact = path.replace(first["artifact_id"], second["artifact_id"])
    response = httpx.get(http.base_url.join(f"{other_artifact}?{urlencode(query)}"))
    assert response.status_code == 403, "a URL for one artifact opens no other"


def test_an_expired_or_overlong_signature_is_refused(http: httpx.Client, tenant: Tenant) -> None:
    trace = new_trace(http, tenant.key())
    created = upload_raw(http, trace, tenant.key(), png(300)).json()
    signer = UrlSigner(SIGNING_KEY.encode(), 60)
    grant = Grant(created["artifact_id"], created["storage_path"], created["content_type"])
    now = int(time.time())
    content = f"/artifacts/{created['artifact_id']}/content"
    assert httpx.get(http.base_url.join(f"{content}?{signer.query(grant, now + 30)}")).status_code == 200
    expired = httpx.get(http.base_url.join(f"{content}?{signer.query(grant, now - 1)}"))
    assert (expired.status_code, expired.json()["error"]["code"]) == (403, "invalid_signature")
    overlong = httpx.get(http.base_url.join(f"{content}?{signer.query(grant, now + MAX_ARTIFACT_URL_TTL_SECONDS)}"))
    assert overlong.status_code == 403, "an expiry beyond the configured lifetime was not issued by the server"


def test_signed_urls_expire_after_the_configured_lifetime(http: httpx.Client, tenant: Tenant) -> None:
    trace = new_trace(http, tenant.key())
    created = upload_raw(http, trace, tenant.key(), png(300)).json()
    started = time.time()
    query = parse_qs(urlsplit(signed_location(http, created["artifact_id"], tenant.key())).query)
    assert int(started) + 60 <= int(query["expires"][0]) <= time.time() + 60


def test_signed_urls_and_signatures_never_reach_the_logs(
    http: httpx.Client, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    trace = new_trace(http, tenant.key())
    created = upload_raw(http, trace, tenant.key(), png(300)).json()
    with caplog.at_level(logging.DEBUG):
        location = signed_location(http, created["artifact_id"], tenant.key())
        assert httpx.get(http.base_url.join(location)).status_code == 200
        httpx.get(http.base_url.join(location + "x"))
    signature = parse_qs(urlsplit(location).query)["signature"][0]
    as_logged = formatter("json")
    logged = "\n".join(as_logged.format(r) for r in caplog.records if r.name.startswith("agentdeck"))
    assert "/content" in logged, "the request log saw the download"
    assert signature not in logged and "signature=" not in logged


def test_a_key_of_another_project_or_workspace_gets_404_for_the_artifact(
    http: httpx.Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    trace = new_trace(http, tenant.key())
    created = upload_raw(http, trace, tenant.key(), png(300)).json()
    url = f"/artifacts/{created['artifact_id']}"
    for headers in (other_tenant.key(), tenant.key(1), other_tenant.user("owner"), tenant.user("stranger")):
        response = http.get(url, headers=headers)
        assert (response.status_code, response.json()["error"]["code"]) == (404, "artifact_not_found")
    for headers in (tenant.user("member"), tenant.user("viewer")):
        assert http.get(url, headers=headers).status_code == 302
    assert http.get("/artifacts/art_doesnotexist", headers=tenant.key()).status_code == 404


def test_uploads_need_a_writable_visible_session(http: httpx.Client, tenant: Tenant, other_tenant: Tenant) -> None:
    trace = new_trace(http, tenant.key())
    assert upload_raw(http, trace, other_tenant.key(), png(300)).status_code == 404
    assert upload_raw(http, trace, tenant.key(1), png(300)).status_code == 404
    assert upload_raw(http, trace, tenant.user("viewer"), png(300)).status_code == 403
    assert upload_raw(http, trace, tenant.user("member"), png(300)).status_code == 201


def _write_object(root: Path, storage_path: str, data: bytes) -> None:
    """What a trusted uploader does: put the object in the storage directory itself."""
    file = root / storage_path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(data)


def register(http: httpx.Client, trace: str, headers: dict[str, str], storage_path: str,
             content_type: str = "image/png", **params: str) -> httpx.Response:
    return http.post(f"/api/traces/{trace}/artifacts", headers=headers,
                     params={"storage_path": storage_path, "content_type": content_type, **params})


def test_registering_a_stored_object_records_its_size_and_hash(
    http: httpx.Client, tenant: Tenant, database_url: str, root: Path
) -> None:
    trace = new_trace(http, tenant.key())
    data = png(10_000)
    storage_path = f"{tenant.workspace_id}/{tenant.projects[0]}/runner/replay-1.png"
    _write_object(root, storage_path, data)
    before = state(database_url, tenant, root)
    mismatch = register(http, trace, tenant.key(), storage_path, sha256=sha256_hex(b"other"))
    assert (mismatch.status_code, mismatch.json()["error"]["code"]) == (422, "content_mismatch")
    wrong_size = register(http, trace, tenant.key(), storage_path, size_bytes="1")
    assert wrong_size.status_code == 422
    wrong_type = register(http, trace, tenant.key(), storage_path, content_type="video/mp4")
    assert (wrong_type.status_code, wrong_type.json()["error"]["code"]) == (415, "signature_mismatch")
    missing = register(http, trace, tenant.key(), storage_path + ".gone")
    assert (missing.status_code, missing.json()["error"]["code"]) == (422, "object_not_found")
    assert state(database_url, tenant, root) == before

    created = register(http, trace, tenant.key(), storage_path, kind="replay", sha256=sha256_hex(data))
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["storage_path"], body["size_bytes"], body["sha256"], body["kind"]) == (
        storage_path, len(data), sha256_hex(data), "replay")
    again = register(http, trace, tenant.key(), storage_path)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "artifact_path_taken")
    download = httpx.get(http.base_url.join(signed_location(http, body["artifact_id"], tenant.key())))
    assert download.content == data


def test_a_registration_outside_the_callers_project_prefix_is_refused(
    http: httpx.Client, tenant: Tenant, other_tenant: Tenant, database_url: str, root: Path
) -> None:
    victim_path = f"{tenant.workspace_id}/{tenant.projects[0]}/secret.png"
    _write_object(root, victim_path, png(500))
    own_trace = new_trace(http, other_tenant.key())
    sibling_trace = new_trace(http, tenant.key(1))
    before = state(database_url, tenant, root), artifact_rows(database_url, other_tenant.workspace_id)
    for trace, headers in ((own_trace, other_tenant.key()), (sibling_trace, tenant.key(1))):
        response = register(http, trace, headers, victim_path)
        assert (response.status_code, response.json()["error"]["code"]) == (403, "path_outside_project")
    climbing = f"{other_tenant.workspace_id}/{other_tenant.projects[0]}/../../{victim_path}"
    response = register(http, own_trace, other_tenant.key(), climbing)
    assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_storage_path")
    assert (state(database_url, tenant, root), artifact_rows(database_url, other_tenant.workspace_id)) == before


def test_a_registration_has_no_body_and_an_upload_no_content_type_parameter(
    http: httpx.Client, tenant: Tenant
) -> None:
    trace = new_trace(http, tenant.key())
    with_body = http.post(f"/api/traces/{trace}/artifacts", params={"storage_path": "a/b", "content_type": "image/png"},
                          headers={**tenant.key(), "Content-Type": "image/png"}, content=png(100))
    assert with_body.status_code == 400
    typed_twice = http.post(f"/api/traces/{trace}/artifacts", params={"content_type": "image/png"},
                            headers={**tenant.key(), "Content-Type": "image/png"}, content=png(100))
    assert typed_twice.status_code == 400


def test_an_artifact_event_must_name_an_artifact_of_the_same_session(http: httpx.Client, tenant: Tenant) -> None:
    trace, other_trace = new_trace(http, tenant.key()), new_trace(http, tenant.key())
    mine = upload_raw(http, trace, tenant.key(), png(300)).json()
    theirs = upload_raw(http, other_trace, tenant.key(), png(300)).json()
    url = f"/api/traces/{trace}/events"
    single = http.post(url, json=artifact_event(1, theirs), headers=tenant.key())
    assert (single.status_code, single.json()["error"]["code"]) == (422, "unknown_artifact")
    batch = {"events": [
        artifact_event(1, mine),
        artifact_event(2, theirs),
        artifact_event(3, {"artifact_id": "art_nosuchthing", "storage_path": mine["storage_path"]}),
        artifact_event(4, {**mine, "storage_path": theirs["storage_path"]}),
        artifact_event(5, mine),
    ]}
    body = http.post(url, json=batch, headers=tenant.key()).json()
    assert body["accepted"] == 2
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [
        (1, "unknown_artifact"), (2, "unknown_artifact"), (3, "unknown_artifact")]
    assert body["rejected"][0]["reason"] == "artifact_id and storage_path must name an artifact of this session"
