"""The migration runner: idempotent, checksum-guarded, safe to run concurrently; and the CLI around it."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from api.migrate import MigrationError, migrate, schema_files, sql_root

_CATALOG = """
select md5(string_agg(item, ',' order by item)) from (
    select 'fn:' || p.oid::regprocedure::text || md5(p.prosrc) as item
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname in ('app', 'api', 'internal')
    union all
    select 'pol:' || tablename || '.' || policyname || qual || coalesce(with_check, '') from pg_policies
    union all
    select 'col:' || table_schema || '.' || table_name || '.' || column_name from information_schema.columns
    where table_schema = 'app'
) as catalog
"""


async def _fetchval(url: str, sql: str) -> object:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


def test_applying_twice_changes_nothing(empty_database: str) -> None:
    first = asyncio.run(migrate(empty_database))
    assert first == [f.version for f in schema_files()]
    before = asyncio.run(_fetchval(empty_database, _CATALOG))
    assert asyncio.run(migrate(empty_database)) == []
    assert asyncio.run(_fetchval(empty_database, _CATALOG)) == before


def test_a_tampered_applied_file_is_refused(empty_database: str, tmp_path: Path) -> None:
    tree = tmp_path / "sql"
    shutil.copytree(sql_root(), tree)
    asyncio.run(migrate(empty_database, tree))
    first = sorted((tree / "schema").glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited after it was applied\n")
    with pytest.raises(MigrationError, match=first.name):
        asyncio.run(migrate(empty_database, tree))


def test_concurrent_migrations_end_with_one_applied_set(empty_database: str) -> None:
    async def both() -> list[list[str]]:
        return list(await asyncio.gather(*(migrate(empty_database) for _ in range(3))))

    runs = asyncio.run(both())
    versions = [f.version for f in schema_files()]
    assert sorted(v for run in runs for v in run) == versions
    assert asyncio.run(_fetchval(empty_database, "select count(*) from meta.schema_migrations")) == len(versions)


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "AGENTDECK_JWT_SECRET": "cli-test-secret-" + "z" * 32}
    return subprocess.run([sys.executable, "-m", "api", "--json", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_cli_administers_workspaces_projects_members_and_keys(empty_database: str) -> None:
    assert json.loads(_cli(empty_database, "migrate").stdout)["applied"]
    workspace = json.loads(_cli(empty_database, "workspace", "create", "--name", "Acme").stdout)
    project = json.loads(_cli(empty_database, "project", "create", "--workspace", workspace["workspace_id"],
                              "--name", "web").stdout)
    user = "a11ce000-0000-4000-8000-000000000001"
    member = json.loads(_cli(empty_database, "member", "add", "--workspace", workspace["workspace_id"],
                             "--user", user, "--role", "viewer").stdout)
    assert member["role"] == "viewer"
    key = json.loads(_cli(empty_database, "key", "create", "--project", project["project_id"]).stdout)
    assert key["secret"].startswith("adk_")
    stored = asyncio.run(_fetchval(empty_database, "select encode(key_hash, 'hex') from app.api_keys"))
    assert key["secret"] not in str(stored)
    revoked = json.loads(_cli(empty_database, "key", "revoke", "--key", key["key_id"]).stdout)
    assert revoked["revoked_at"]
    token = json.loads(_cli(empty_database, "token", "--user", user, "--ttl", "60").stdout)
    assert token["token"].count(".") == 2


def test_cli_refusals_are_one_clear_line(empty_database: str) -> None:
    asyncio.run(migrate(empty_database))
    missing = _cli(empty_database, "project", "create", "--workspace", "ws_missing", "--name", "x")
    assert missing.returncode != 0
    assert missing.stderr.strip() == "agentdeck: no workspace ws_missing"
    bad_port = subprocess.run([sys.executable, "-m", "api", "migrate"], capture_output=True, text=True, timeout=60,
                              env={**os.environ, "DATABASE_URL": empty_database, "AGENTDECK_PORT": "http"})
    assert bad_port.returncode != 0
    assert bad_port.stderr.strip() == "agentdeck: configuration error: AGENTDECK_PORT must be an integer, got 'http'"
