"""Uploads stream: 200 MiB through 20 concurrent uploads barely moves the server's peak memory.

The server runs as its own process (`python -m api serve`, the production entry point) so its
peak resident set (VmHWM) can be read from /proc without the test's own buffers in it.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from tests.api.conftest import JWT_SECRET, SERVICE_TOKEN
from tests.support.artifacts import new_trace, png
from tests.support.tenants import Tenant

UPLOADS = 20
UPLOAD_BYTES = 10 * 1024 * 1024
# Far below the 200 MiB uploaded: what the server may hold at once is a few chunks per upload.
PEAK_GROWTH_LIMIT = 32 * 1024 * 1024

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads peak RSS from /proc")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _memory(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"{field} not in /proc/{pid}/status")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test")
    client.create_bucket(Bucket="agentdeck-memory")
    client.close()
    try:
        yield endpoint
    finally:
        server.stop()


def _backend_env(backend: str, s3_endpoint: str) -> dict[str, str]:
    if backend == "local":
        return {}
    return {"AGENTDECK_STORAGE_BACKEND": "s3", "AGENTDECK_S3_BUCKET": "agentdeck-memory",
            "AGENTDECK_S3_ENDPOINT_URL": s3_endpoint, "AGENTDECK_S3_ACCESS_KEY_ID": "test",
            "AGENTDECK_S3_SECRET_ACCESS_KEY": "test", "AGENTDECK_S3_ADDRESSING_STYLE": "path"}


@contextmanager
def _serving(database_url: str, data_dir: Path, extra: dict[str, str]) -> Iterator[tuple[int, str]]:
    """`python -m api serve` on a free port: (pid, base URL)."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "AGENTDECK_JWT_SECRET": JWT_SECRET,
           "AGENTDECK_SERVICE_TOKEN": SERVICE_TOKEN, "AGENTDECK_RATE_PER_SECOND": "100000",
           "AGENTDECK_RATE_BURST": "100000", "AGENTDECK_DATA_DIR": str(data_dir), "AGENTDECK_PORT": str(port), **extra}
    base_url = f"http://127.0.0.1:{port}"
    with (data_dir / "server.log").open("wb") as log, subprocess.Popen(
        [sys.executable, "-m", "api", "serve", "--no-migrate"], env=env, stdout=log, stderr=subprocess.STDOUT,
    ) as process:
        try:
            deadline = time.monotonic() + 60
            while not _healthy(base_url):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the server did not start: {(data_dir / 'server.log').read_text()[-2000:]}")
                time.sleep(0.05)
            yield process.pid, base_url
        finally:
            process.terminate()
            process.wait(timeout=30)


def _healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


async def _upload_all(base_url: str, trace: str, headers: dict[str, str], data: bytes) -> list[int]:
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        responses = await asyncio.gather(*(
            client.post(f"/api/traces/{trace}/artifacts", headers={**headers, "Content-Type": "image/png"},
                        content=data)
            for _ in range(UPLOADS)
        ))
    return [r.status_code for r in responses]


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_concurrent_uploads_keep_the_servers_peak_memory_bounded(
    database_url: str, tenant: Tenant, tmp_path: Path, s3_endpoint: str, backend: str
) -> None:
    with _serving(database_url, tmp_path, _backend_env(backend, s3_endpoint)) as (pid, base_url):
        data = png(UPLOAD_BYTES)
        with httpx.Client(base_url=base_url, timeout=120) as client:
            trace = new_trace(client, tenant.key())
            warm_up = client.post(f"/api/traces/{trace}/artifacts",
                                  headers={**tenant.key(), "Content-Type": "image/png"}, content=data)
            assert warm_up.status_code == 201, warm_up.text
        baseline = _memory(pid, "VmRSS")
        # Reset the peak to the current RSS, so the peak read below belongs to the concurrent uploads.
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        statuses = asyncio.run(_upload_all(base_url, trace, tenant.key(), data))
        peak = _memory(pid, "VmHWM")
    assert statuses == [201] * UPLOADS
    growth = peak - baseline
    print(f"{backend}: {UPLOADS} x {UPLOAD_BYTES >> 20} MiB uploaded; baseline RSS {baseline >> 20} MiB, "
          f"peak {peak >> 20} MiB, growth {growth / 2**20:.1f} MiB")
    assert growth < PEAK_GROWTH_LIMIT, f"peak RSS grew by {growth / 2**20:.1f} MiB"
