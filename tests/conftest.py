"""Test session: one uniquely named database per run (migrated, with pgTAP), dropped at the end."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from api.migrate import migrate
from tests.support.pgtap import DATABASE_URL_KEY, PSQL_KEY, PgTapFile
from tests.support.target import psql_binary, server_url, with_database

_HELPERS = Path(__file__).parent / "support" / "pgtap_helpers.sql"


async def _create_database(server: str, name: str) -> str:
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'create database "{name}"')  # name is ours: agentdeck_test_<hex>
    finally:
        await conn.close()
    url = with_database(server, name)
    await migrate(url)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("create extension if not exists pgtap")
        await conn.execute(_HELPERS.read_text())
    finally:
        await conn.close()
    return url


async def _drop_database(server: str, name: str) -> None:
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await conn.close()


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    server = server_url()
    name = f"agentdeck_test_{secrets.token_hex(6)}"
    config.stash[_SERVER_KEY] = (server, name)
    config.stash[DATABASE_URL_KEY] = asyncio.run(_create_database(server, name))
    config.stash[PSQL_KEY] = psql_binary(server)


def pytest_unconfigure(config: pytest.Config) -> None:
    target = config.stash.get(_SERVER_KEY, None)
    if target is not None:
        asyncio.run(_drop_database(*target))


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> Any:
    if file_path.suffix == ".sql" and file_path.name.startswith("test_"):
        return PgTapFile.from_parent(parent, path=file_path)
    return None


@pytest.fixture(scope="session")
def database_url(pytestconfig: pytest.Config) -> Iterator[str]:
    yield pytestconfig.stash[DATABASE_URL_KEY]


@pytest.fixture
def empty_database(pytestconfig: pytest.Config) -> Iterator[str]:
    """A fresh, unmigrated database of this test's own, dropped afterwards."""
    server, session_name = pytestconfig.stash[_SERVER_KEY]
    name = f"{session_name}_{secrets.token_hex(3)}"

    async def create() -> None:
        conn = await asyncpg.connect(server)
        try:
            await conn.execute(f'create database "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    try:
        yield with_database(server, name)
    finally:
        asyncio.run(_drop_database(server, name))


@pytest.fixture(scope="module")
def module_database(pytestconfig: pytest.Config) -> Iterator[str]:
    """A migrated database of one test module's own, for tests whose outcome depends on what the
    tables hold as a whole (planner statistics), not only on their own rows. Dropped afterwards."""
    server, session_name = pytestconfig.stash[_SERVER_KEY]
    name = f"{session_name}_{secrets.token_hex(3)}"
    url = asyncio.run(_create_database(server, name))
    try:
        yield url
    finally:
        asyncio.run(_drop_database(server, name))


_SERVER_KEY = pytest.StashKey[tuple[str, str]]()
