"""Administration a self-hoster does from the CLI: workspaces, projects, members and API keys.

Runs on the admin connection as the owner role, whose explicit policies let it manage tenancy.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import asyncpg

from api.auth import new_api_key

ROLES = ("owner", "admin", "member", "viewer")


class AdminError(Exception):
    """A refused admin action, with a message for the operator."""


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


async def _as_owner(conn: asyncpg.Connection, sql: str, *args: Any) -> asyncpg.Record | None:
    async with conn.transaction():
        await conn.execute("set local role agentdeck_owner")
        return await conn.fetchrow(sql, *args)


async def create_workspace(conn: asyncpg.Connection, name: str) -> dict[str, Any]:
    row = await _as_owner(
        conn, "insert into app.workspaces (workspace_id, name) values ($1, $2) returning workspace_id, name",
        new_id("ws"), name,
    )
    assert row is not None
    return dict(row)


async def create_project(conn: asyncpg.Connection, workspace_id: str, name: str) -> dict[str, Any]:
    try:
        row = await _as_owner(
            conn,
            "insert into app.projects (workspace_id, project_id, name) values ($1, $2, $3)"
            " returning workspace_id, project_id, name",
            workspace_id, new_id("proj"), name,
        )
    except asyncpg.ForeignKeyViolationError:
        raise AdminError(f"no workspace {workspace_id}") from None
    assert row is not None
    return dict(row)


async def add_member(conn: asyncpg.Connection, workspace_id: str, user_id: str, role: str) -> dict[str, Any]:
    if role not in ROLES:
        raise AdminError(f"role must be one of {', '.join(ROLES)}")
    try:
        user = uuid.UUID(user_id)
    except ValueError:
        raise AdminError("user must be a uuid (the JWT sub)") from None
    try:
        row = await _as_owner(
            conn,
            "insert into app.workspace_members (workspace_id, user_id, role) values ($1, $2, $3)"
            " on conflict (workspace_id, user_id) do update set role = excluded.role"
            " returning workspace_id, user_id::text, role",
            workspace_id, user, role,
        )
    except asyncpg.ForeignKeyViolationError:
        raise AdminError(f"no workspace {workspace_id}") from None
    assert row is not None
    return dict(row)


async def create_key(conn: asyncpg.Connection, project_id: str, name: str) -> dict[str, Any]:
    """Create an API key; the returned `secret` is the only time it exists outside the caller."""
    secret, prefix, key_hash = new_api_key()
    row = await _as_owner(
        conn,
        "insert into app.api_keys (workspace_id, key_id, project_id, name, prefix, key_hash)"
        " select p.workspace_id, $2, p.project_id, $3, $4, $5 from app.projects as p where p.project_id = $1"
        " returning workspace_id, key_id, project_id, name, prefix",
        project_id, new_id("key"), name, prefix, key_hash,
    )
    if row is None:
        raise AdminError(f"no project {project_id}")
    return {**dict(row), "secret": secret}


async def revoke_key(conn: asyncpg.Connection, key_id: str) -> dict[str, Any]:
    row = await _as_owner(
        conn,
        "update app.api_keys set revoked_at = coalesce(revoked_at, now()) where key_id = $1"
        " returning workspace_id, key_id, revoked_at::text",
        key_id,
    )
    if row is None:
        raise AdminError(f"no key {key_id}")
    return dict(row)


async def first_workspace(conn: asyncpg.Connection) -> str | None:
    row = await _as_owner(conn, "select workspace_id from app.workspaces order by created_at limit 1")
    return None if row is None else str(row["workspace_id"])


async def _rows_as_owner(conn: asyncpg.Connection, sql: str, *args: Any) -> list[dict[str, Any]]:
    async with conn.transaction(readonly=True):
        await conn.execute("set local role agentdeck_owner")
        return [dict(row) for row in await conn.fetch(sql, *args)]


async def list_workspaces(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    return await _rows_as_owner(
        conn, "select workspace_id, name, created_at::text from app.workspaces order by created_at, workspace_id")


async def list_projects(conn: asyncpg.Connection, workspace_id: str | None) -> list[dict[str, Any]]:
    return await _rows_as_owner(
        conn,
        "select workspace_id, project_id, name, created_at::text from app.projects"
        " where $1::text is null or workspace_id = $1 order by workspace_id, created_at, project_id",
        workspace_id,
    )


async def list_members(conn: asyncpg.Connection, workspace_id: str | None) -> list[dict[str, Any]]:
    return await _rows_as_owner(
        conn,
        "select workspace_id, user_id::text, role, created_at::text from app.workspace_members"
        " where $1::text is null or workspace_id = $1 order by workspace_id, created_at, user_id",
        workspace_id,
    )


async def list_keys(conn: asyncpg.Connection, project_id: str | None) -> list[dict[str, Any]]:
    """Keys by their public prefix; the secret exists nowhere to list (only its sha256 is stored)."""
    return await _rows_as_owner(
        conn,
        "select workspace_id, project_id, key_id, name, prefix, created_at::text, last_used_at::text,"
        " revoked_at::text from app.api_keys where $1::text is null or project_id = $1"
        " order by workspace_id, project_id, created_at, key_id",
        project_id,
    )
