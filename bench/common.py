"""Shared bench plumbing: a scratch database on the configured server and a real `agentdeck serve`."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import asyncpg

from api import admin
from api.migrate import migrate
from tests.support.serve_process import serve_process
from tests.support.target import server_url, with_database


@dataclass
class BenchTarget:
    database_url: str
    base_url: str
    key: str
    workspace_id: str
    project_id: str
    server_pid: int

    def server_memory_kib(self) -> tuple[int, int]:
        """The server process's current and peak resident set (VmRSS, VmHWM), in KiB."""
        fields = dict(line.split(":", 1) for line in open(f"/proc/{self.server_pid}/status").read().splitlines())
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


async def _prepare(server: str, name: str) -> tuple[str, dict[str, str]]:
    conn = await asyncpg.connect(server)
    await conn.execute(f'create database "{name}"')
    await conn.close()
    url = with_database(server, name)
    await migrate(url)
    conn = await asyncpg.connect(url)
    try:
        workspace = await admin.create_workspace(conn, "bench")
        project = await admin.create_project(conn, workspace["workspace_id"], "bench")
        key = await admin.create_key(conn, project["project_id"], "bench")
        return url, {"key": key["secret"], "workspace_id": workspace["workspace_id"],
                     "project_id": project["project_id"]}
    finally:
        await conn.close()


async def _drop(server: str, name: str) -> None:
    conn = await asyncpg.connect(server)
    await conn.execute(f'drop database if exists "{name}" with (force)')
    await conn.close()


@contextmanager
def scratch_database() -> Iterator[tuple[str, dict[str, str]]]:
    """A migrated scratch database with one workspace, project and key (dropped afterwards)."""
    server = os.environ.get("DATABASE_URL") or server_url()
    name = f"agentdeck_bench_{secrets.token_hex(4)}"
    url, tenant = asyncio.run(_prepare(server, name))
    try:
        yield url, tenant
    finally:
        asyncio.run(_drop(server, name))


@contextmanager
def bench_target(**env: str) -> Iterator[BenchTarget]:
    """A migrated scratch database with one project and key, and `agentdeck serve` on a free loopback port."""
    with scratch_database() as (url, tenant), _serve(url, tenant, env) as target:
        yield target


@contextmanager
def _serve(url: str, tenant: dict[str, str], env: dict[str, str]) -> Iterator[BenchTarget]:
    with serve_process(url, AGENTDECK_RATE_PER_SECOND="1000000", AGENTDECK_RATE_BURST="1000000",
                       AGENTDECK_JWT_SECRET=secrets.token_urlsafe(40), **env) as served:
        yield BenchTarget(url, served.base_url, tenant["key"], tenant["workspace_id"], tenant["project_id"],
                          served.pid)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
