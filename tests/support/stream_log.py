"""The committed stream as the database holds it (read as the admin): what subscribers must receive."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True)
class Committed:
    position: int
    kind: str
    project_id: str
    session_id: str | None
    seq: int | None  # trace.event: the event's seq


async def committed_messages(database_url: str, workspace_id: str) -> list[Committed]:
    """Every position of the workspace's stream, in order (trace.event rows expanded per event)."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "select position, kind, project_id, trace_id, event_seqs from app.stream_messages"
            " where workspace_id = $1 order by position",
            workspace_id,
        )
    finally:
        await conn.close()
    messages = []
    for row in rows:
        seqs = row["event_seqs"] or [None]
        messages += [Committed(row["position"] + i, row["kind"], row["project_id"], row["trace_id"], seq)
                     for i, seq in enumerate(seqs)]
    return messages


def visible(messages: list[Committed], project_ids: set[str] | None = None,
            session_id: str | None = None) -> list[Committed]:
    return [m for m in messages if (project_ids is None or m.project_id in project_ids)
            and (session_id is None or m.session_id == session_id)]


async def emit_as_service(database_url: str, workspace_id: str, project_id: str, session_id: str | None,
                          kind: str, payload: str) -> int:
    """internal.emit_stream_message (through the tests schema's definer) in a transaction as the service."""
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await conn.execute(
                "select set_config('role', 'service_role', true), set_config('request.jwt.claims', $1, true)",
                f'{{"role": "service_role", "workspace_id": "{workspace_id}"}}',
            )
            position: int = await conn.fetchval("select tests.emit_stream_message($1, $2, $3, $4, $5::jsonb)",
                                                workspace_id, project_id, session_id, kind, payload)
        return position
    finally:
        await conn.close()

