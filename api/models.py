"""Request and response models: the handlers parse with them and /openapi.json is generated from them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from api.timestamps import Timestamp

TRACE_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
SessionStatus = Literal["running", "success", "failure", "error", "cancelled"]
# The analysis' session verdict (docs/detectors.md): the claimed outcome checked against the findings.
SessionVerdict = Literal["failed", "succeeded_with_errors", "succeeded", "unknown"]


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
    started_at: Timestamp | None = None


class EventBatch(Strict):
    """POST /api/traces/{id}/events with several events (a single event object is also accepted)."""

    events: list[Any] = Field(description="event objects; one that is not an object is rejected on its own")


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


class SessionRow(Session):
    labels: list[str] = Field(description="labels of the session's stored analysis, if any")
    verdict: SessionVerdict | None = Field(default=None, description="the stored analysis' verdict, if any")


class Rejection(BaseModel):
    index: int
    idempotency_key: str | None
    code: Literal[
        "seq_not_monotonic", "idempotency_conflict", "seq_conflict", "session_ended", "unknown_artifact", "invalid"
    ]
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
    position: int | None = Field(description="stream position; null once the stream retention has pruned it")


class EventsPage(BaseModel):
    session_id: str
    events: list[StoredEvent]
    next_after_seq: int | None


class SessionsPage(BaseModel):
    sessions: list[SessionRow]
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
    since: Timestamp | None = None
    until: Timestamp | None = None
    label: str | None = None
    incident_id: str | None = None
    q: str | None = Field(default=None, max_length=200)
    verdict: SessionVerdict | None = None
    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = None


class ProjectQuery(Strict):
    """The only query parameter of POST events, POST analyze, GET and PUT analysis."""

    project_id: str | None = None


class EventsQuery(Strict):
    """GET /api/traces/{id}/events query parameters."""

    project_id: str | None = None
    after_seq: int | None = Field(default=None, ge=0, le=2**62)
    limit: int = Field(default=500, ge=1, le=5000)
    types: list[str] | None = None


ArtifactKind = Literal["screenshot", "replay", "dom_snapshot", "trace_archive", "log", "other"]


class ArtifactParams(Strict):
    """POST /api/traces/{id}/artifacts: query parameters; kind, seq and sha256 may also be multipart fields.

    With `storage_path` the request registers an object a trusted uploader already stored, and
    `content_type` names its media type; otherwise the body is the upload.
    """

    project_id: str | None = None
    kind: ArtifactKind = "other"
    seq: int | None = Field(default=None, ge=0, le=2**62)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$", description="expected sha256 (hex)")
    size_bytes: int | None = Field(default=None, ge=0, description="expected size")
    storage_path: str | None = Field(default=None, min_length=1, max_length=1024)
    content_type: str | None = Field(default=None, max_length=255)


class ArtifactCreated(BaseModel):
    artifact_id: str
    storage_path: str
    kind: ArtifactKind
    content_type: str
    size_bytes: int
    sha256: str


class ErrorBody(BaseModel):
    class Detail(BaseModel):
        status: int
        code: str
        message: str
        details: list[Any]
        request_id: str

    error: Detail



class FailureSignature(Strict):
    label: str
    tool: str | None
    error_type: str | None
    message: str = Field(max_length=4000)


class Label(Strict):
    label: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    confidence: float = Field(ge=0, le=1)
    critical_seq: int | None = Field(ge=0, description="where the failure was observed")
    evidence: dict[str, Any]
    signature: FailureSignature
    cause_seq: int | None = Field(default=None, ge=0, description="the decision that produced the failing action")
    recovered: bool = Field(default=False, description="the agent got past it; recovered findings open no incident")
    recovered_by_seq: int | None = Field(default=None, ge=0)
    occurrences: int | None = Field(default=None, ge=1)


class CriticalStep(Strict):
    seq: int = Field(ge=0, description="the cause of the first unrecovered decisive failure")
    label: str
    reason: str
    observed_seq: int | None = Field(default=None, ge=0, description="where that failure was observed")


class AnalysisIn(Strict):
    """PUT /api/traces/{id}/analysis: a result computed by the server-side workflow."""

    detector_version: str = Field(min_length=1, max_length=64)
    input_digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    labels: list[Label] = Field(max_length=100)
    critical_step: CriticalStep | None
    verdict: SessionVerdict | None = None


class StoredAnalysis(BaseModel):
    session_id: str
    project_id: str
    detector_version: str
    input_digest: str
    labels: list[Label]
    critical_step: CriticalStep | None
    verdict: SessionVerdict | None
    source: Literal["analyze", "worker", "service"]
    analyzed_at: datetime
    stored: bool = Field(description="false only from a viewer's POST analyze: computed, not stored")


IncidentStatus = Literal["open", "acknowledged", "resolved", "ignored"]


class Incident(BaseModel):
    id: str
    workspace_id: str
    project_id: str
    title: str = Field(description="label, tool and normalised message")
    label: str
    tool: str | None
    error_type: str | None
    message: str = Field(description="the normalised failure message")
    fingerprint: str
    rules_version: int = Field(description="version of the normalisation rules behind the fingerprint")
    status: IncidentStatus
    owner: UUID | None
    regressed: bool = Field(description="reopened by a new occurrence after it was resolved")
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    session_count: int
    occurrence_count: int
    sample_session_ids: list[str] = Field(description="up to five linked sessions, most recently seen first")
    created_at: datetime
    updated_at: datetime


class IncidentsPage(BaseModel):
    incidents: list[Incident]
    next_cursor: str | None


class IncidentsQuery(Strict):
    """GET /api/incidents query parameters."""

    workspace_id: str | None = None
    project_id: str | None = None
    status: IncidentStatus | None = None
    label: str | None = None
    owner: UUID | None = None
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=1000)


class IncidentPatch(Strict):
    """PATCH /api/incidents/{id}: `owner: null` unassigns, an absent field is left as it is."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    # Absent is allowed, null is not (the validator below): the document says so.
    status: Annotated[IncidentStatus | None, WithJsonSchema({"enum": list(get_args(IncidentStatus)),
                                                             "type": "string"})] = None
    owner: UUID | None = None

    @model_validator(mode="after")
    def _names_a_change(self) -> IncidentPatch:
        if not self.model_fields_set:
            raise ValueError("give status, owner or both")
        if "status" in self.model_fields_set and self.status is None:
            raise ValueError("status cannot be null")
        return self


# --- Fix agent (issue #12) ---------------------------------------------------------------------

FallbackLabelName = Literal[
    "no_model_configured", "no_repository", "repository_unavailable", "model_error", "timeout", "no_diff",
    "invalid_diff", "diff_too_large", "checks_failed",
]


class FixAgentRequest(Strict):
    """POST /api/incidents/{id}/fix-agent: no options yet (an empty body or `{}`)."""


class PlanStep(BaseModel):
    step: str = Field(description="what_failed, cause, change or verify")
    text: str


class FixFallback(BaseModel):
    label: FallbackLabelName
    reason: str


class FixChecks(BaseModel):
    status: Literal["passed", "failed", "timeout"]
    exit_code: int | None
    output_tail: str
    duration_ms: int


class FixRun(BaseModel):
    fix_run_id: str
    workspace_id: str
    project_id: str
    incident_id: str
    runner: Literal["rules", "model"]
    status: Literal["running", "completed", "fallback"]
    plan: list[PlanStep]
    diff: str | None = Field(description="a unified diff that passed git apply --check at base_sha, else null")
    base_sha: str | None
    fallback: FixFallback | None
    repository: str | None
    model: str | None
    files: list[str] = Field(description="repository paths sent to the model")
    checks: FixChecks | None
    timings: dict[str, int] = Field(description="milliseconds per phase")
    requested_by: dict[str, str | None]
    started_at: datetime
    finished_at: datetime | None


class FixRunsPage(BaseModel):
    fix_runs: list[FixRun]
    next_cursor: str | None


class FixRunsQuery(Strict):
    """GET /api/incidents/{id}/fix-runs query parameters."""

    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=1000)

# Regression runs (docs/regression-runs.md).

SessionId = Annotated[str, Field(pattern=TRACE_ID_PATTERN)]
PairVerdict = Literal["fixed", "still_failing", "new_failure", "missing"]


class RegressionRunCreate(Strict):
    """POST /api/incidents/{id}/regression-runs."""

    after_session_ids: list[SessionId] = Field(default_factory=list, max_length=1000)
    before_session_ids: list[SessionId] | None = Field(
        default=None, min_length=1, max_length=500, description="default: the incident's sessions"
    )
    expected_after: int | None = Field(
        default=None, ge=1, le=10000, description="default: the after_session_ids given or the before tasks, the larger"
    )
    deadline_seconds: int | None = Field(default=None, ge=1, le=7 * 24 * 3600)
    resolve_on_pass: bool = False
    name: str | None = Field(default=None, max_length=200)
    fix_run_id: str | None = Field(default=None, pattern=r"^fix_[A-Za-z0-9]{1,64}$")


class RegressionPair(BaseModel):
    task: str = Field(description="metadata.task_key, or #<position> with order pairing")
    matched: bool = Field(description="false for an after-session whose task has no before-session")
    before_session_ids: list[str]
    before_failing: bool | None
    after_session_id: str | None
    verdict: PairVerdict | None = Field(description="null while pending and not yet analysed")


class RegressionTask(BaseModel):
    task: str
    after_sessions: int
    verdict: PairVerdict | Literal["flaky"] | None


class RegressionRun(BaseModel):
    id: str
    workspace_id: str
    project_id: str
    incident_id: str
    fingerprint: str
    name: str | None
    status: Literal["pending", "passed", "failed"]
    pairing: Literal["task_key", "order"]
    detector_version: str
    expected_after: int
    resolve_on_pass: bool
    fix_run_id: str | None
    deadline_at: datetime
    before_session_ids: list[str]
    after_session_ids: list[str]
    pairs: list[RegressionPair]
    tasks: list[RegressionTask]
    summary: dict[str, Any] = Field(description="counts per verdict, sessions analysed, exact sign test")
    created_at: datetime
    completed_at: datetime | None
    updated_at: datetime


class RegressionRunsPage(BaseModel):
    regression_runs: list[RegressionRun]
    next_cursor: str | None


class RegressionRunsQuery(Strict):
    """GET /api/incidents/{id}/regression-runs query parameters."""

    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=1000)
