-- Regression runs: a before/after replay of an incident, the sessions on each side, and the stream
-- kind that announces them. See docs/regression-runs.md.

create table app.regression_runs (
    workspace_id text not null,
    run_id text not null,
    project_id text not null,
    incident_id text not null,
    fingerprint text not null,
    name text,
    status text not null default 'pending',
    pairing text not null,
    detector_version text not null,
    expected_after integer not null,
    resolve_on_pass boolean not null default false,
    fix_run_id text,
    deadline_at timestamptz not null,
    due_at timestamptz not null,
    result jsonb,
    created_at timestamptz not null default clock_timestamp(),
    completed_at timestamptz,
    updated_at timestamptz not null default clock_timestamp(),
    constraint regression_runs_pkey primary key (workspace_id, run_id),
    constraint regression_runs_incident_fk foreign key (workspace_id, incident_id)
    references app.incidents (workspace_id, incident_id) on delete cascade,
    constraint regression_runs_project_fk foreign key (workspace_id, project_id)
    references app.projects (workspace_id, project_id) on delete cascade,
    constraint regression_runs_id_prefixed check (run_id ~ '^rr_[A-Za-z0-9]+$'),
    constraint regression_runs_fingerprint_sha256 check (fingerprint ~ '^[0-9a-f]{64}$'),
    constraint regression_runs_status_known check (status in ('pending', 'passed', 'failed')),
    constraint regression_runs_pairing_known check (pairing in ('task_key', 'order')),
    constraint regression_runs_name_length check (length(name) <= 200),
    constraint regression_runs_expected_after_positive check (expected_after >= 1),
    -- An opaque reference to a fix run (fix_…) until the fix-run table exists to point a foreign key at.
    constraint regression_runs_fix_run_id_shape check (fix_run_id ~ '^fix_[A-Za-z0-9]{1,64}$'),
    constraint regression_runs_settled_with_result check ((status = 'pending') = (completed_at is null and result is null))
);
-- GET /api/incidents/{id}/regression-runs: newest first.
create index regression_runs_incident_created_idx on app.regression_runs (
    workspace_id, incident_id, created_at desc, run_id desc
);
-- The worker's scan for runs to settle spans workspaces by nature, like the analysis queue.
create index regression_runs_due_idx on app.regression_runs (due_at) where status = 'pending';
comment on table app.regression_runs is
'A before/after regression replay of an incident: pending until its after-sessions are analysed or its deadline passes.';
comment on column app.regression_runs.workspace_id is 'Owning workspace.';
comment on column app.regression_runs.run_id is 'Prefixed id (rr_…).';
comment on column app.regression_runs.project_id is 'Project of the incident and of every session of the run.';
comment on column app.regression_runs.incident_id is 'The incident the run checks.';
comment on column app.regression_runs.fingerprint is 'The incident''s fingerprint: an after-session showing it is still failing.';
comment on column app.regression_runs.name is 'Display name given by the caller.';
comment on column app.regression_runs.status is 'pending, then passed or failed (fail-closed at the deadline).';
comment on column app.regression_runs.pairing is
'task_key (every before-session carries metadata.task_key) or order (pairs follow the order given).';
comment on column app.regression_runs.detector_version is 'Detector suite version both sides are judged by.';
comment on column app.regression_runs.expected_after is 'After-sessions to wait for before the run settles.';
comment on column app.regression_runs.resolve_on_pass is 'Resolve the incident when the run passes.';
comment on column app.regression_runs.fix_run_id is 'The fix run (fix_…) this run checks, if any: an opaque reference.';
comment on column app.regression_runs.deadline_at is 'When a still-pending run fails, its missing after-sessions counted missing.';
comment on column app.regression_runs.due_at is
'When the worker next settles the run: now when one of its sessions was analysed, else the deadline.';
comment on column app.regression_runs.result is 'The settled verdicts: {pairs, tasks, summary}; null while pending.';
comment on column app.regression_runs.created_at is 'When the run was created.';
comment on column app.regression_runs.completed_at is 'When the run passed or failed.';
comment on column app.regression_runs.updated_at is 'Last change to the row.';
comment on index app.regression_runs_incident_created_idx is 'An incident''s runs, newest first.';
comment on index app.regression_runs_due_idx is 'Pending runs due to be settled, across workspaces, for the worker.';

create table app.regression_run_sessions (
    workspace_id text not null,
    run_id text not null,
    project_id text not null,
    trace_id text not null,
    side text not null,
    task text not null,
    ordinal integer not null,
    verdict text,
    joined_at timestamptz not null default clock_timestamp(),
    constraint regression_run_sessions_pkey primary key (workspace_id, run_id, trace_id),
    constraint regression_run_sessions_run_fk foreign key (workspace_id, run_id)
    references app.regression_runs (workspace_id, run_id) on delete cascade,
    constraint regression_run_sessions_session_fk foreign key (workspace_id, project_id, trace_id)
    references app.trace_sessions (workspace_id, project_id, trace_id) on delete cascade,
    constraint regression_run_sessions_side_known check (side in ('before', 'after')),
    constraint regression_run_sessions_ordinal_positive check (ordinal >= 1),
    constraint regression_run_sessions_verdict_known check (
        verdict is null or (verdict in ('fixed', 'still_failing', 'new_failure', 'missing') and side = 'after')
    ),
    constraint regression_run_sessions_ordinal_unique unique (workspace_id, run_id, side, ordinal)
);
-- A stored analysis marks the runs of its session due (internal.regression_session_analyzed).
create index regression_run_sessions_session_idx on app.regression_run_sessions (
    workspace_id, project_id, trace_id, run_id
);
comment on table app.regression_run_sessions is
'The sessions of a run: before-sessions (the incident''s) and after-sessions, each paired with its task''s before-sessions.';
comment on column app.regression_run_sessions.workspace_id is 'Owning workspace.';
comment on column app.regression_run_sessions.run_id is 'The run.';
comment on column app.regression_run_sessions.project_id is 'Project of the session (and of the run).';
comment on column app.regression_run_sessions.trace_id is 'The session.';
comment on column app.regression_run_sessions.side is 'before (the failing runs) or after (the re-runs after a fix).';
comment on column app.regression_run_sessions.task is
'What pairs the sides: metadata.task_key (task_key pairing), or #<ordinal> of the position given (order pairing).';
comment on column app.regression_run_sessions.ordinal is 'Position on its side: the order given, then the order of arrival.';
comment on column app.regression_run_sessions.verdict is
'After-sessions of a settled run: fixed, still_failing, new_failure or missing (not analysed by the deadline).';
comment on column app.regression_run_sessions.joined_at is 'When the session joined the run.';
comment on index app.regression_run_sessions_session_idx is 'The runs a session belongs to.';

-- Runs are announced on the stream like incidents.
alter table app.stream_messages drop constraint stream_messages_kind_known;
alter table app.stream_messages add constraint stream_messages_kind_known check (
    kind in ('trace.event', 'session.updated', 'analysis.completed', 'incident.updated', 'regression_run.updated')
);
