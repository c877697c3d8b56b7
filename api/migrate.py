"""The migration runner: Flyway semantics in a few lines.

1. `sql/roles.sql` (idempotent, cluster-wide roles).
2. `sql/schema/NNNN_name.sql`, each once, in order, in its own transaction, recorded with its
   sha256; an applied file whose checksum changed stops the run.
3. `sql/functions/*.sql` then `sql/policies/*.sql`, re-applied together in one transaction.

A session-level advisory lock serialises concurrent runs against one database.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

import api

# Arbitrary but fixed: "agentdeck" in ASCII, folded into a bigint.
_LOCK_KEY = 0x6167656E74646563

_HISTORY_DDL = """
create schema if not exists meta authorization agentdeck_owner;
comment on schema meta is 'agentdeck bookkeeping: the migration history.';
create table if not exists meta.schema_migrations (
    version text primary key,
    name text not null,
    checksum text not null,
    applied_at timestamptz not null default now()
);
alter table meta.schema_migrations owner to agentdeck_owner;
comment on table meta.schema_migrations is 'One row per applied file of sql/schema/, with its sha256.';
grant usage on schema meta to agentdeck_api;
grant select on meta.schema_migrations to agentdeck_api;
"""

_VERSIONED = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    """A migration cannot proceed; the message says which file and why."""


@dataclass(frozen=True)
class SchemaFile:
    version: str
    name: str
    path: Path
    checksum: str


def sql_root() -> Path:
    """The SQL tree: inside the installed package, or at the source checkout's top."""
    packaged = Path(api.__file__).parent / "sql"
    return packaged if packaged.is_dir() else Path(api.__file__).parent.parent / "sql"


def schema_files(root: Path | None = None) -> list[SchemaFile]:
    root = root or sql_root()
    files = []
    for path in sorted((root / "schema").glob("*.sql")):
        match = _VERSIONED.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: schema files are named NNNN_name.sql")
        checksum = hashlib.sha256(path.read_bytes()).hexdigest()
        files.append(SchemaFile(match.group(1), match.group(2), path, checksum))
    versions = [f.version for f in files]
    if len(set(versions)) != len(versions):
        raise MigrationError("two schema files share a version number")
    return files


async def migrate(database_url: str, root: Path | None = None) -> list[str]:
    """Bring the database up to date; returns the versions applied by this run."""
    root = root or sql_root()
    files = schema_files(root)
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("select pg_advisory_lock($1)", _LOCK_KEY)
        try:
            return await _migrate_locked(conn, root, files)
        finally:
            await conn.execute("select pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await conn.close()


async def _migrate_locked(conn: asyncpg.Connection, root: Path, files: list[SchemaFile]) -> list[str]:
    await conn.execute((root / "roles.sql").read_text())
    await conn.execute(_HISTORY_DDL)
    applied = {r["version"]: r for r in await conn.fetch("select version, name, checksum from meta.schema_migrations")}
    for version, row in applied.items():
        current = next((f for f in files if f.version == version), None)
        if current is None:
            raise MigrationError(f"applied migration {version}_{row['name']}.sql is missing from sql/schema/")
        if current.checksum != row["checksum"]:
            raise MigrationError(
                f"sql/schema/{current.path.name} was changed after it was applied "
                f"(recorded sha256 {row['checksum'][:12]}…, file {current.checksum[:12]}…); "
                "add a new migration instead"
            )
    done = []
    for schema_file in files:
        if schema_file.version in applied:
            continue
        async with conn.transaction():
            await conn.execute("set local role agentdeck_owner")
            await conn.execute(schema_file.path.read_text())
            await conn.execute("reset role")
            await conn.execute(
                "insert into meta.schema_migrations (version, name, checksum) values ($1, $2, $3)",
                schema_file.version,
                schema_file.name,
                schema_file.checksum,
            )
        done.append(schema_file.version)
    async with conn.transaction():
        await conn.execute("set local role agentdeck_owner")
        # Files apply in name order; bodies may call functions defined in a later file (as pg_dump does).
        await conn.execute("set local check_function_bodies = off")
        for kind in ("functions", "policies"):
            for path in sorted((root / kind).glob("*.sql")):
                await conn.execute(path.read_text())
    return done


async def pending(conn: asyncpg.Connection, root: Path | None = None) -> list[str]:
    """Versions not yet applied, or applied with another checksum (used by /readyz)."""
    rows = await conn.fetch("select version, checksum from meta.schema_migrations")
    recorded = {r["version"]: r["checksum"] for r in rows}
    return [f.version for f in schema_files(root) if recorded.get(f.version) != f.checksum]
