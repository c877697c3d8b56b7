-- Stored analyses (one per session, the latest) and the queue that analyses sessions when they end.

create table app.analyses (
    workspace_id text not null,
    project_id text not null,
    trace_id text not null,
    detector_version text not null,
    input_digest text not null,
    labels jsonb not null,
    critical_step jsonb,
    source text not null,
    analyzed_at timestamptz not null default clock_timestamp(),
    constraint analyses_pkey primary key (workspace_id, project_id, trace_id),
    constraint analyses_session_fk foreign key (workspace_id, project_id, trace_id)
    references app.trace_sessions (workspace_id, project_id, trace_id) on delete cascade,
    constraint analyses_labels_array check (jsonb_typeof(labels) = 'array'),
    constraint analyses_digest_sha256 check (input_digest ~ '^[0-9a-f]{64}$'),
    constraint analyses_source_known check (source in ('analyze', 'worker', 'service'))
);
-- GET /api/sessions?label=…: sessions whose analysis carries a label.
create index analyses_labels_idx on app.analyses using gin (labels jsonb_path_ops);
comment on table app.analyses is 'The latest detector result of each session; re-analysis replaces it.';
comment on column app.analyses.workspace_id is 'Owning workspace.';
comment on column app.analyses.project_id is 'Owning project.';
comment on column app.analyses.trace_id is 'The analysed session.';
comment on column app.analyses.detector_version is 'Version of the detector suite that produced the result.';
comment on column app.analyses.input_digest is 'sha256 of the canonical ordered events the detectors read.';
comment on column app.analyses.labels is
'Findings: [{label, confidence, critical_seq, evidence, signature}], deterministic order.';
comment on column app.analyses.critical_step is 'The earliest decisive finding {seq, label, reason}, or null.';
comment on column app.analyses.source is 'analyze (POST …/analyze), worker (automatic on session end) or service (PUT).';
comment on column app.analyses.analyzed_at is 'When the result was stored.';
comment on index app.analyses_labels_idx is 'Filters sessions by analysis label.';

create table app.analysis_jobs (
    workspace_id text not null,
    project_id text not null,
    trace_id text not null,
    status text not null default 'queued',
    attempts integer not null default 0,
    run_after timestamptz not null default now(),
    lease_until timestamptz,
    last_error text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint analysis_jobs_pkey primary key (workspace_id, project_id, trace_id),
    constraint analysis_jobs_session_fk foreign key (workspace_id, project_id, trace_id)
    references app.trace_sessions (workspace_id, project_id, trace_id) on delete cascade,
    constraint analysis_jobs_status_known check (status in ('queued', 'running', 'done', 'failed')),
    constraint analysis_jobs_attempts_nonnegative check (attempts >= 0)
);
-- The worker's queue spans workspaces by nature: the one index not led by workspace_id.
create index analysis_jobs_ready_idx on app.analysis_jobs (run_after) where status in ('queued', 'running');
comment on table app.analysis_jobs is
'Automatic analysis: one job per ended session, taken by workers with FOR UPDATE SKIP LOCKED.';
comment on column app.analysis_jobs.workspace_id is 'Workspace of the session.';
comment on column app.analysis_jobs.project_id is 'Project of the session.';
comment on column app.analysis_jobs.trace_id is 'The session to analyse.';
comment on column app.analysis_jobs.status is 'queued, running (leased), done, or failed after the last attempt.';
comment on column app.analysis_jobs.attempts is 'Attempts started so far.';
comment on column app.analysis_jobs.run_after is 'Not before this time (backoff after a failure).';
comment on column app.analysis_jobs.lease_until is 'A running job whose lease expired is taken again (its worker died).';
comment on column app.analysis_jobs.last_error is 'Why the last attempt failed.';
comment on column app.analysis_jobs.created_at is 'When the session ended and the job was queued.';
comment on column app.analysis_jobs.updated_at is 'Last state change.';
comment on index app.analysis_jobs_ready_idx is 'Finds jobs due to run, oldest first.';
