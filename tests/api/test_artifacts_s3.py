"""Artifacts on the S3 backend, against a real S3-protocol server (moto's standalone server) on
127.0.0.1, through the same boto3 client code production uses."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from api.app import create_app
from tests.api.conftest import settings_for
from tests.support.artifacts import (
    artifact_event,
    artifact_rows,
    body_revoking_its_key_midway,
    new_trace,
    png,
    sha256_hex,
    upload_form,
    upload_raw,
)
from tests.support.server import RunningServer
from tests.support.tenants import Tenant

BUCKET = "agentdeck-test-artifacts"
PREFIX = "agentdeck/"
MAX_BYTES = 256 * 1024
CREDENTIALS = {"aws_access_key_id": "test-access-key", "aws_secret_access_key": "test-secret-key"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.fixture(scope="module")
def bucket(s3_endpoint: str) -> Iterator[object]:
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **CREDENTIALS)
    client.create_bucket(Bucket=BUCKET)
    yield client
    client.close()


@pytest.fixture(scope="module")
def s3_server(database_url: str, s3_endpoint: str, bucket: object) -> Iterator[RunningServer]:
    settings = settings_for(
        database_url, AGENTDECK_STORAGE_BACKEND="s3", AGENTDECK_S3_BUCKET=BUCKET, AGENTDECK_S3_ENDPOINT_URL=s3_endpoint,
        AGENTDECK_S3_REGION="us-east-1", AGENTDECK_S3_ACCESS_KEY_ID=CREDENTIALS["aws_access_key_id"],
        AGENTDECK_S3_SECRET_ACCESS_KEY=CREDENTIALS["aws_secret_access_key"], AGENTDECK_S3_PREFIX=PREFIX,
        AGENTDECK_S3_ADDRESSING_STYLE="path", AGENTDECK_ARTIFACT_MAX_BYTES=str(MAX_BYTES),
    )
    with RunningServer(create_app(settings, database_url)) as running:
        yield running


@pytest.fixture
def http(s3_server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=s3_server.base_url, timeout=30) as client:
        yield client


def bucket_keys(bucket: object) -> dict[str, int]:
    listing = bucket.list_objects_v2(Bucket=BUCKET)  # type: ignore[attr-defined]
    return {item["Key"]: item["Size"] for item in listing.get("Contents", [])}


def test_upload_then_event_then_presigned_download_returns_the_same_bytes(
    http: httpx.Client, tenant: Tenant, bucket: object, s3_endpoint: str
) -> None:
    trace = new_trace(http, tenant.key())
    data = png(100_000)
    upload = upload_form(http, trace, tenant.key(), data, kind="screenshot", seq="2")
    assert upload.status_code == 201, upload.text
    created = upload.json()
    assert (created["size_bytes"], created["sha256"]) == (len(data), sha256_hex(data))
    assert "://" not in upload.text
    assert bucket_keys(bucket)[PREFIX + created["storage_path"]] == len(data)

    event = http.post(f"/api/traces/{trace}/events", json=artifact_event(2, created), headers=tenant.key())
    assert event.status_code == 201, event.text

    redirect = http.get(f"/artifacts/{created['artifact_id']}", headers=tenant.key())
    assert redirect.status_code == 302
    location = redirect.headers["location"]
    assert location.startswith(f"{s3_endpoint}/{BUCKET}/{PREFIX}") and "X-Amz-Expires=60" in location
    download = httpx.get(location)
    assert download.status_code == 200, download.text
    assert download.content == data and sha256_hex(download.content) == created["sha256"]
    assert download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"] == f'inline; filename="{created["artifact_id"]}.png"'


def test_refused_uploads_leave_the_bucket_and_the_database_unchanged(
    http: httpx.Client, tenant: Tenant, bucket: object, database_url: str
) -> None:
    trace = new_trace(http, tenant.key())
    before = bucket_keys(bucket), artifact_rows(database_url, tenant.workspace_id)
    refusals = {
        413: [upload_raw(http, trace, tenant.key(), png(MAX_BYTES + 1)),
              upload_form(http, trace, tenant.key(), png(MAX_BYTES + 1))],
        415: [upload_raw(http, trace, tenant.key(), b"<html>", "text/html"),
              upload_form(http, trace, tenant.key(), b"GIF89a" + b"\x00" * 100, "image/png")],
        401: [http.post(f"/api/traces/{trace}/artifacts", headers={**tenant.key(), "Content-Type": "image/png"},
                        content=body_revoking_its_key_midway(database_url, tenant.key_ids[tenant.projects[0]],
                                                             png(1000), b"\x00" * 1000))],
    }
    for status, responses in refusals.items():
        for response in responses:
            assert response.status_code == status, response.text
    assert (bucket_keys(bucket), artifact_rows(database_url, tenant.workspace_id)) == before


def test_registration_checks_the_object_and_the_project_prefix(
    http: httpx.Client, tenant: Tenant, other_tenant: Tenant, bucket: object, database_url: str
) -> None:
    data = png(20_000)
    storage_path = f"{tenant.workspace_id}/{tenant.projects[0]}/runner/shot.png"
    bucket.put_object(Bucket=BUCKET, Key=PREFIX + storage_path, Body=data)  # type: ignore[attr-defined]
    trace = new_trace(http, tenant.key())
    url = f"/api/traces/{trace}/artifacts"
    missing = http.post(url, headers=tenant.key(), params={"storage_path": storage_path + "x",
                                                           "content_type": "image/png"})
    assert (missing.status_code, missing.json()["error"]["code"]) == (422, "object_not_found")

    intruder_trace = new_trace(http, other_tenant.key())
    intrusion = http.post(f"/api/traces/{intruder_trace}/artifacts", headers=other_tenant.key(),
                          params={"storage_path": storage_path, "content_type": "image/png"})
    assert (intrusion.status_code, intrusion.json()["error"]["code"]) == (403, "path_outside_project")
    assert artifact_rows(database_url, other_tenant.workspace_id) == []

    created = http.post(url, headers=tenant.key(), params={"storage_path": storage_path, "content_type": "image/png",
                                                           "sha256": sha256_hex(data)})
    assert created.status_code == 201, created.text
    artifact_id = created.json()["artifact_id"]
    assert http.get(f"/artifacts/{artifact_id}", headers=other_tenant.key()).status_code == 404
    download = httpx.get(http.get(f"/artifacts/{artifact_id}", headers=tenant.key()).headers["location"])
    assert download.content == data
