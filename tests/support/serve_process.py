"""`agentdeck serve` as a real process of its own on a free loopback port (replica tests, benchmarks)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class ServeProcess:
    base_url: str
    pid: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_process(database_url: str, **env: str) -> Iterator[ServeProcess]:
    """Start `agentdeck serve --no-migrate` on `database_url` and wait until /readyz answers 200."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "api", "serve", "--no-migrate"],
        env={**os.environ, "DATABASE_URL": database_url, "AGENTDECK_PORT": str(port), **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("agentdeck serve did not become ready")
            time.sleep(0.1)
        yield ServeProcess(base, process.pid)
    finally:
        process.terminate()
        process.wait(30)
