"""Stream messages as they travel: positioned rows turned into SSE frames, and who receives them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import asyncpg

# The columns every stream read returns (internal.stream_page and api.stream_backfill's reset row).
STREAM_COLUMNS = "stream_position, kind, project_id, session_id, data::text as data"


def sse_frame(event: str, data: str, event_id: int | None = None) -> bytes:
    """One SSE message: `id:` (stream positions only), `event:` and one line of JSON `data:`."""
    prefix = "" if event_id is None else f"id: {event_id}\n"
    return f"{prefix}event: {event}\ndata: {data}\n\n".encode()


def control_frame(event: str, data: Mapping[str, object]) -> bytes:
    """A frame the server itself says (`close`): no `id:`, so it never moves a client's cursor."""
    return sse_frame(event, json.dumps(data))


@dataclass(frozen=True, slots=True)
class StreamMessage:
    position: int
    kind: str
    project_id: str | None
    session_id: str | None
    frame: bytes  # the encoded SSE message, one object shared by every subscriber it goes to

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> StreamMessage:
        """A row of internal.stream_page (data as JSON text) as its SSE message."""
        position: int = row["stream_position"]
        return cls(position, row["kind"], row["project_id"], row["session_id"],
                   sse_frame(row["kind"], row["data"], position))


@dataclass(frozen=True)
class StreamFilter:
    """What one subscriber receives: its credential's reach at connect, narrowed by its query."""

    workspace_id: str
    project_ids: frozenset[str] | None  # None: every project of the workspace, also later ones
    session_id: str | None = None

    @property
    def single_project(self) -> str | None:
        """The one project followed, if it is one: backfill then reads that project's index only."""
        if self.project_ids is not None and len(self.project_ids) == 1:
            return next(iter(self.project_ids))
        return None

    def select(self, messages: list[StreamMessage]) -> list[StreamMessage]:
        if self.project_ids is None and self.session_id is None:
            return messages
        return [m for m in messages if (self.project_ids is None or m.project_id in self.project_ids)
                and (self.session_id is None or m.session_id == self.session_id)]
