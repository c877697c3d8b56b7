"""The migration runner: Flyway semantics in a few lines.

1. `sql/roles.sql` (idempotent, cluster-wide roles).
2. `sql/schema/NNNN_name.sql`, each once, in order, in its own transaction, recorded with its
   sha256; an applied file whose checksum changed stops the run, and so does a pending file
   numbered below the last applied one (branches merged out of order).
3. `sql/functions/*.sql` then `sql/policies/*.sql` (the definitions), re-applied together in one
   transaction, only when one of them changed (or a schema file was applied). Function grants
   are reset first, so the files' grants are the only ones. In that same transaction every
   function of `api`/`internal` and every policy on an `app` table that the files did not
   (re)create (its catalog row is unchanged) is dropped: what left `sql/` leaves the database.

Every transaction sets `lock_timeout`: a migration waiting behind a long transaction gives up
(nothing changed, a message naming the blockers) instead of queueing all traffic behind it.
A session-level advisory lock serialises concurrent runs against one database.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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
create table if not exists meta.definition_files (
    path text primary key,
    checksum text not null,
    applied_at timestamptz not null default now()
);
alter table meta.definition_files owner to agentdeck_owner;
comment on table meta.definition_files is
'The sql/functions and sql/policies files last applied, with their sha256: unchanged files are not re-applied.';
grant usage on schema meta to agentdeck_api;
grant select on meta.schema_migrations to agentdeck_api;
"""

# The functions and policies the definition files own, each with its catalog row's ctid: a row the
# files did not (re)create or re-grant while being applied keeps its ctid (any update moves the
# row), so it left sql/. Policies sort first: they may name functions. `create or replace function`
# keeps a function's grants, so each apply first revokes them all: a grant sql/ no longer makes is
# gone from an upgraded database as from a fresh one.
_MANAGED_OBJECTS = """
select
    0 as rank, p.oid, p.ctid::text as ctid,
    format('drop policy %I on %I.%I', p.polname, n.nspname, c.relname) as drop_statement,
    null as revoke_statement
from pg_catalog.pg_policy as p
inner join pg_catalog.pg_class as c on p.polrelid = c.oid
inner join pg_catalog.pg_namespace as n on c.relnamespace = n.oid
where n.nspname = 'app'
union all
select
    1, p.oid, p.ctid::text, format('drop routine %s', p.oid::regprocedure),
    format(
        'revoke all on routine %s from public, authenticated, agentdeck_key, service_role, anon, agentdeck_api',
        p.oid::regprocedure
    )
from pg_catalog.pg_proc as p
inner join pg_catalog.pg_namespace as n on p.pronamespace = n.oid
where
    (n.nspname in ('api', 'internal') or (n.nspname = 'auth' and n.nspowner = 'agentdeck_owner'::regrole))
    and not exists (
        select from pg_catalog.pg_depend as d
        where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e'
    )
order by 1, 4
"""
# Who holds locks on agentdeck's tables, for the message of a migration that timed out waiting.
_LOCK_HOLDERS = """
select distinct on (l.pid, c.relname)
    n.nspname || '.' || c.relname as relation, l.pid, a.state,
    coalesce(extract(epoch from now() - a.xact_start)::integer, 0) as seconds
from pg_catalog.pg_locks as l
inner join pg_catalog.pg_class as c on l.relation = c.oid
inner join pg_catalog.pg_namespace as n on c.relnamespace = n.oid
left join pg_catalog.pg_stat_activity as a on l.pid = a.pid
where l.granted and l.pid <> pg_backend_pid() and n.nspname in ('app', 'meta') and c.relkind in ('r', 'p')
order by l.pid, c.relname
limit 10
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


async def migrate(database_url: str, root: Path | None = None, *, lock_timeout_ms: int = 5000) -> list[str]:
    """Bring the database up to date; returns the versions applied by this run."""
    root = root or sql_root()
    files = schema_files(root)
    definitions = definition_files(root)
    conn = await asyncpg.connect(database_url)
    try:
        # Waiting here is waiting for another migration, which is itself bounded by lock_timeout.
        await conn.execute("select pg_advisory_lock($1)", _LOCK_KEY)
        try:
            return await _migrate_locked(conn, root, files, definitions, lock_timeout_ms)
        finally:
            await conn.execute("select pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await conn.close()


def definition_files(root: Path | None = None) -> dict[str, tuple[Path, str]]:
    """sql/functions then sql/policies, in apply order: relative path → (path, sha256)."""
    root = root or sql_root()
    return {
        f"{kind}/{path.name}": (path, hashlib.sha256(path.read_bytes()).hexdigest())
        for kind in ("functions", "policies")
        for path in sorted((root / kind).glob("*.sql"))
    }


async def _migrate_locked(conn: asyncpg.Connection, root: Path, files: list[SchemaFile],
                          definitions: dict[str, tuple[Path, str]], lock_timeout_ms: int) -> list[str]:
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
    last_applied = max(applied, default="")
    for schema_file in files:
        if schema_file.version not in applied and schema_file.version < last_applied:
            raise MigrationError(
                f"sql/schema/{schema_file.path.name} is numbered below {last_applied}, the last applied migration: "
                "it would run out of order; renumber it above the last applied one"
            )
    done = []
    for schema_file in files:
        if schema_file.version in applied:
            continue
        async with _owner_transaction(conn, f"sql/schema/{schema_file.path.name}", lock_timeout_ms):
            await conn.execute(schema_file.path.read_text())
            await conn.execute(
                "insert into meta.schema_migrations (version, name, checksum) values ($1, $2, $3)",
                schema_file.version,
                schema_file.name,
                schema_file.checksum,
            )
        done.append(schema_file.version)
    recorded = {r["path"]: r["checksum"] for r in await conn.fetch("select path, checksum from meta.definition_files")}
    if not done and recorded == {name: checksum for name, (_, checksum) in definitions.items()}:
        return done  # nothing to re-apply: no lock is taken on a start that changes nothing
    async with _owner_transaction(conn, "sql/functions and sql/policies", lock_timeout_ms):
        for row in await conn.fetch(_MANAGED_OBJECTS):
            if row["revoke_statement"] is not None:
                await conn.execute(row["revoke_statement"])
        before = {(r["oid"], r["ctid"]) for r in await conn.fetch(_MANAGED_OBJECTS)}
        # Files apply in name order; bodies may call functions defined in a later file (as pg_dump does).
        await conn.execute("set local check_function_bodies = off")
        for path, _ in definitions.values():
            await conn.execute(path.read_text())
        # No cascade: a dependency that sql/ does not know of stops the run instead of vanishing with it.
        for row in await conn.fetch(_MANAGED_OBJECTS):
            if (row["oid"], row["ctid"]) in before:
                await conn.execute(row["drop_statement"])
        await conn.execute("delete from meta.definition_files")
        await conn.executemany(
            "insert into meta.definition_files (path, checksum) values ($1, $2)",
            [(name, checksum) for name, (_, checksum) in definitions.items()],
        )
    return done


@asynccontextmanager
async def _owner_transaction(conn: asyncpg.Connection, what: str, lock_timeout_ms: int) -> AsyncIterator[None]:
    """A transaction as agentdeck_owner whose lock waits are bounded; a timeout names who holds the locks."""
    try:
        async with conn.transaction():
            await conn.execute("set local role agentdeck_owner")
            await conn.execute(f"set local lock_timeout = {int(lock_timeout_ms)}")
            yield
    except asyncpg.LockNotAvailableError:
        holders = [
            f"{r['relation']} by pid {r['pid']} ({r['state'] or 'unknown'} for {r['seconds']} s)"
            for r in await conn.fetch(_LOCK_HOLDERS)
        ]
        raise MigrationError(
            f"{what}: a lock was not granted within {lock_timeout_ms} ms (lock_timeout), so nothing was changed; "
            f"locks held by other transactions: {'; '.join(holders) or 'none any more'}. "
            "Retry once they end (AGENTDECK_MIGRATE_LOCK_TIMEOUT_MS sets the wait)."
        ) from None


async def pending(conn: asyncpg.Connection, root: Path | None = None) -> list[str]:
    """Versions not yet applied, or applied with another checksum (used by /readyz).

    Definition files are left out on purpose: during a rolling deploy the newer build re-applies
    them, and the older instances still serving must not all turn unready at that moment.
    """
    rows = await conn.fetch("select version, checksum from meta.schema_migrations")
    recorded = {r["version"]: r["checksum"] for r in rows}
    return [f.version for f in schema_files(root) if recorded.get(f.version) != f.checksum]
