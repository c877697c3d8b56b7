"""`agentdeck dev` as a process: a SIGTERM stops the embedded PostgreSQL it started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_until(condition: object, what: str, within: float) -> None:
    deadline = time.monotonic() + within
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_sigterm_to_dev_stops_the_embedded_postgres() -> None:
    # A short data directory: PostgreSQL's Unix socket path must fit in 107 bytes.
    with tempfile.TemporaryDirectory(prefix="adk-") as data_dir:
        run_dev_and_terminate(Path(data_dir))


def run_dev_and_terminate(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTDECK_", "DATABASE_URL"))}
    env.update(AGENTDECK_DATA_DIR=str(tmp_path), AGENTDECK_PORT=str(port), AGENTDECK_WORKER="0")
    dev = subprocess.Popen([sys.executable, "-m", "api", "dev"], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    started: list[int] = []
    try:
        def serving() -> bool:
            if dev.poll() is not None:
                raise AssertionError(f"agentdeck dev exited early with {dev.returncode}")
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(serving, "agentdeck dev to serve", within=180)
        postmaster = int((tmp_path / "pgdata" / "postmaster.pid").read_text().split()[0])
        started.append(postmaster)
        assert alive(postmaster)
        dev.send_signal(signal.SIGTERM)
        assert dev.wait(timeout=60) != 0
        wait_until(lambda: not alive(postmaster), "the embedded PostgreSQL to stop", within=30)
    finally:
        if dev.poll() is None:
            dev.kill()
            dev.wait()
        for pid in started:  # a failed run leaves no server behind: fast shutdown
            if alive(pid):
                os.kill(pid, signal.SIGINT)
