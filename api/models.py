"""Request and response models: the handlers parse with them and /openapi.json is generated from them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

TRACE_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
SessionStatus = Literal["running", "success", "failure", "error", "cancelled"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Agent(Strict):
    name: str = Field(min_length=1, max_length=200)
    version: str | None = Field(default=None, max_length=100)


class TraceCreate(Strict):
    """POST /api/traces."""

    id: str | None = Field(default=None, pattern=TRACE_ID_PATTERN)
    project_id: str | None = Field(default=None, pattern=r"^proj_[A-Za-z0-9]+$")
    name: str | None = Field(default=None, max_length=500)
    agent: Agent | None = None
    environment: str | None = Field(default=None, max_length=100)
    tags: list[str] = Field(default_factory=list, max_length=50)
    metadata: dict[str, Any] = Field(default_factory=dict)
    started_at: AwareDatetime | None = None


class EventBatch(Strict):
    """POST /api/traces/{id}/events with several events (a single event object is also accepted)."""

    events: list[dict[str, Any]]


class Session(BaseModel):
    id: str
    workspace_id: str
    project_id: str
    name: str | None
    agent: Agent | None
    environment: str | None
    tags: list[str]
    metadata: dict[str, Any]
    status: SessionStatus
    last_seq: int | None
    event_count: int
    error_count: int
    started_at: datetime
    ended_at: datetime | None
    created_at: datetime
    updated_at: datetime


class Rejection(BaseModel):
    index: int
    idempotency_key: str | None
    code: Literal["seq_not_monotonic", "idempotency_conflict", "seq_conflict", "session_ended", "invalid"]
    reason: str
    details: list[dict[str, Any]] | None = None


class BatchResult(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[Rejection]
    first_position: int | None = Field(description="stream position of the first accepted event")


class StoredEvent(BaseModel):
    seq: int
    idempotency_key: str
    type: str
    name: str | None
    ts: datetime | None
    payload: dict[str, Any]
    parent_seq: int | None
    received_at: datetime
    position: int


class EventsPage(BaseModel):
    session_id: str
    events: list[StoredEvent]
    next_after_seq: int | None


class SessionsPage(BaseModel):
    sessions: list[Session]
    next_cursor: str | None


class SessionsQuery(Strict):
    """GET /api/sessions query parameters."""

    workspace_id: str | None = None
    project_id: str | None = None
    session_id: str | None = None
    status: SessionStatus | None = None
    agent: str | None = None
    environment: str | None = None
    tag: str | None = None
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    q: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = None


class EventsQuery(Strict):
    """GET /api/traces/{id}/events query parameters."""

    project_id: str | None = None
    after_seq: int | None = Field(default=None, ge=0)
    limit: int = Field(default=500, ge=1, le=5000)
    types: list[str] | None = None


class ErrorBody(BaseModel):
    class Detail(BaseModel):
        status: int
        code: str
        message: str
        details: list[Any]
        request_id: str

    error: Detail

