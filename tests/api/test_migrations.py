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

from api.db import api_role_url
from api.migrate import MigrationError, definition_files, migrate, schema_files, sql_root

_CATALOG = """
select md5(string_agg(item, ',' order by item)) from (
    select 'fn:' || p.oid::regprocedure::text || md5(p.prosrc) || p.provolatile::text || p.prosecdef::text
        || coalesce(p.proacl::text, '') as item
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname in ('app', 'api', 'internal')
    union all
    select 'pol:' || tablename || '.' || policyname || cmd || roles::text || coalesce(qual, '')
        || coalesce(with_check, '') from pg_policies
    union all
    select 'acl:' || c.relname || coalesce(c.relacl::text, '') from pg_class c join pg_namespace n
        on n.oid = c.relnamespace where n.nspname = 'app'
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


def _copy_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "sql"
    shutil.copytree(sql_root(), tree)
    return tree


_OBSOLETE_FUNCTION = """
create or replace function internal.obsolete_probe() returns integer
language sql immutable
as $$ select 1 $$;
comment on function internal.obsolete_probe() is 'Removed from sql/ by the test.';
"""
_OBSOLETE_POLICY = """
drop policy if exists events_obsolete_probe on app.events;
create policy events_obsolete_probe on app.events for select to authenticated using (false);
comment on policy events_obsolete_probe on app.events is 'Removed from sql/ by the test.';
"""
_PROBES = """
select
    to_regprocedure('internal.obsolete_probe()') is not null,
    exists (select from pg_policies where policyname = 'events_obsolete_probe')
"""


def test_functions_and_policies_removed_from_sql_are_dropped(empty_database: str, database_url: str,
                                                            tmp_path: Path) -> None:
    tree = _copy_tree(tmp_path)
    functions, policies = tree / "functions" / "paging.sql", tree / "policies" / "traces.sql"
    original = functions.read_text(), policies.read_text()
    functions.write_text(original[0] + _OBSOLETE_FUNCTION)
    policies.write_text(original[1] + _OBSOLETE_POLICY)
    asyncio.run(migrate(empty_database, tree))
    assert tuple(asyncio.run(_fetchrow(empty_database, _PROBES))) == (True, True)

    functions.write_text(original[0])
    policies.write_text(original[1])
    asyncio.run(migrate(empty_database, tree))
    assert tuple(asyncio.run(_fetchrow(empty_database, _PROBES))) == (False, False)
    # The upgraded database ends exactly as a fresh one (the session's, migrated from sql/ once).
    assert asyncio.run(_fetchval(empty_database, _CATALOG)) == asyncio.run(_fetchval(database_url, _CATALOG))


def test_unchanged_definitions_are_not_reapplied(empty_database: str) -> None:
    asyncio.run(migrate(empty_database))
    stamp = "select xmin::text from pg_proc where oid = 'api.append_events(text, text, jsonb)'::regprocedure"
    before = asyncio.run(_fetchval(empty_database, stamp))
    asyncio.run(migrate(empty_database))
    assert asyncio.run(_fetchval(empty_database, stamp)) == before, "re-created although nothing changed"


def test_a_changed_definition_file_is_reapplied(empty_database: str, tmp_path: Path) -> None:
    tree = _copy_tree(tmp_path)
    asyncio.run(migrate(empty_database, tree))
    ingest = tree / "functions" / "ingest.sql"
    ingest.write_text(ingest.read_text().replace(
        "'POST /api/traces: creates a session,", "'POST /api/traces (edited): creates a session,"))
    asyncio.run(migrate(empty_database, tree))
    comment = "select obj_description('api.create_trace(jsonb)'::regprocedure, 'pg_proc')"
    assert str(asyncio.run(_fetchval(empty_database, comment))).startswith("POST /api/traces (edited)")


def test_a_schema_file_numbered_below_the_last_applied_one_is_refused(empty_database: str, tmp_path: Path) -> None:
    tree = _copy_tree(tmp_path)
    asyncio.run(migrate(empty_database, tree))
    last = schema_files(tree)[-1].version
    (tree / "schema" / "0000_merged_late.sql").write_text("create table app.merged_late (x integer);\n")
    with pytest.raises(MigrationError, match=f"0000_merged_late.sql is numbered below {last}"):
        asyncio.run(migrate(empty_database, tree))
    assert asyncio.run(_fetchval(empty_database, "select to_regclass('app.merged_late')")) is None


def test_concurrent_migrations_of_a_changed_tree_apply_it_once(empty_database: str, tmp_path: Path) -> None:
    tree = _copy_tree(tmp_path)
    asyncio.run(migrate(empty_database, tree))
    functions = tree / "functions" / "paging.sql"
    functions.write_text(functions.read_text() + _OBSOLETE_FUNCTION)

    async def both() -> None:
        await asyncio.gather(*(migrate(empty_database, tree) for _ in range(2)))

    asyncio.run(both())
    assert tuple(asyncio.run(_fetchrow(empty_database, _PROBES))) == (True, False)
    recorded = asyncio.run(_fetchval(
        empty_database, "select checksum from meta.definition_files where path = 'functions/paging.sql'"))
    assert recorded == definition_files(tree)["functions/paging.sql"][1]


async def _fetchrow(url: str, sql: str) -> asyncpg.Record:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(sql)
        assert row is not None
        return row
    finally:
        await conn.close()


async def _until(conn: asyncpg.Connection, condition: str) -> None:
    """Poll a SQL condition (a bounded wait for another process to get somewhere, not a timing check)."""
    for _ in range(600):
        if await conn.fetchval(condition):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never true: {condition}")


def test_a_second_serve_behind_a_long_transaction_gives_up_after_lock_timeout(empty_database: str,
                                                                               tmp_path: Path) -> None:
    # The running version's definitions differ from the packaged ones, as in a rolling deploy.
    tree = _copy_tree(tmp_path)
    traces = tree / "policies" / "traces.sql"
    traces.write_text(traces.read_text() + "\n-- the version being replaced\n")
    asyncio.run(migrate(empty_database, tree))
    env = {**os.environ, "DATABASE_URL": empty_database, "AGENTDECK_JWT_SECRET": "serve-test-secret-" + "z" * 32,
           "AGENTDECK_MIGRATE_LOCK_TIMEOUT_MS": "1000", "AGENTDECK_DATA_DIR": str(tmp_path / "data"),
           "AGENTDECK_PORT": "1"}

    async def scenario() -> tuple[int, str]:
        holder, reader, watcher = [await asyncpg.connect(empty_database) for _ in range(3)]
        try:
            long_read = holder.transaction()
            await long_read.start()
            await holder.execute("select count(*) from app.events")
            serve = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "api", "serve", env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            await _until(watcher, "select exists (select from pg_locks"
                                  " where relation = 'app.events'::regclass and not granted)")
            # Traffic arriving now queues behind the migration's lock request, for lock_timeout at most.
            async with reader.transaction():
                await reader.execute("select set_config('role', 'service_role', true),"
                                     " set_config('request.jwt.claims', '{\"role\": \"service_role\"}', true)")
                assert await asyncio.wait_for(reader.fetchval("select count(*) from app.events"), 120) == 0
            assert holder.is_in_transaction(), "the reader got through while the long transaction still runs"
            _, stderr = await asyncio.wait_for(serve.communicate(), 120)
            await long_read.rollback()
            return serve.returncode or 0, stderr.decode()
        finally:
            for conn in (holder, reader, watcher):
                await conn.close()

    returncode, stderr = asyncio.run(scenario())
    assert returncode != 0, "serve must not carry on as if migrated"
    assert "lock_timeout" in stderr and "app.events by pid" in stderr and "Retry" in stderr, stderr
    assert asyncio.run(migrate(empty_database)) == [], "once the transaction ended the same migration succeeds"
    recorded = asyncio.run(_fetchval(
        empty_database, "select checksum from meta.definition_files where path = 'policies/traces.sql'"))
    assert recorded == definition_files()["policies/traces.sql"][1]


def test_a_start_that_changes_nothing_takes_no_table_lock(empty_database: str) -> None:
    asyncio.run(migrate(empty_database))

    async def scenario() -> list[str]:
        holder = await asyncpg.connect(empty_database)
        try:
            async with holder.transaction():
                await holder.execute("lock table app.events, app.trace_sessions in access exclusive mode")
                # lock_timeout is short: any lock on those tables would fail this run.
                return await asyncio.wait_for(migrate(empty_database, lock_timeout_ms=50), 120)
        finally:
            await holder.close()

    assert asyncio.run(scenario()) == []


def test_an_upgrade_from_the_previous_runner_ends_as_a_fresh_database(empty_database: str, database_url: str) -> None:
    asyncio.run(migrate(empty_database))

    async def as_before() -> None:
        # What the previous runner and sql/ left behind: helper and table grants that sql/ no longer
        # makes (create or replace keeps a function's grants), a policy since removed, no checksums.
        conn = await asyncpg.connect(empty_database)
        try:
            await conn.execute("""
                grant execute on function internal.write_audit(text, text, text, text, text, jsonb, jsonb, text),
                    internal.emit_stream_message(text, text, text, text, jsonb) to authenticated;
                grant insert on app.events to authenticated;
                create policy events_insert on app.events for insert to authenticated with check (true);
                delete from meta.definition_files;
            """)
        finally:
            await conn.close()

    asyncio.run(as_before())
    assert asyncio.run(_fetchval(empty_database, _CATALOG)) != asyncio.run(_fetchval(database_url, _CATALOG))
    asyncio.run(migrate(empty_database))
    assert asyncio.run(_fetchval(empty_database, _CATALOG)) == asyncio.run(_fetchval(database_url, _CATALOG))
    refused = "select has_function_privilege('authenticated', 'internal.write_audit(text, text, text, text, text," \
              " jsonb, jsonb, text)', 'execute')"
    assert asyncio.run(_fetchval(empty_database, refused)) is False


def test_the_pools_login_role_runs_without_jit(database_url: str) -> None:
    # sql/roles.sql: a generic plan's estimate over a big table passed jit_above_cost, and a
    # stream page that runs in 1 ms spent 23 ms compiling (docs/benchmarks.md, History).
    assert asyncio.run(_fetchval(api_role_url(database_url), "show jit")) == "off"
