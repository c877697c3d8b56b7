-- Fix runs: one row per POST /api/incidents/{id}/fix-agent, written when the run starts and
-- completed when it ends. See docs/fix-agent.md.

create table app.fix_runs (
    workspace_id text not null,
    fix_run_id text not null,
    project_id text not null,
    incident_id text not null,
    runner text not null,
    status text not null default 'running',
    plan jsonb not null default '[]',
    diff text,
    fallback jsonb,
    base_sha text,
    repository text,
    model text,
    files jsonb not null default '[]',
    checks jsonb,
    timings jsonb not null default '{}',
    actor_kind text not null,
    actor_id text,
    request_id text,
    started_at timestamptz not null default clock_timestamp(),
    deadline_at timestamptz not null,
    finished_at timestamptz,
    constraint fix_runs_pkey primary key (workspace_id, fix_run_id),
    constraint fix_runs_incident_fk foreign key (workspace_id, incident_id)
    references app.incidents (workspace_id, incident_id) on delete cascade,
    constraint fix_runs_project_fk foreign key (workspace_id, project_id)
    references app.projects (workspace_id, project_id) on delete cascade,
    constraint fix_runs_id_prefixed check (fix_run_id ~ '^fix_[A-Za-z0-9]+$'),
    constraint fix_runs_runner_known check (runner in ('rules', 'model')),
    constraint fix_runs_status_known check (status in ('running', 'completed', 'fallback')),
    constraint fix_runs_plan_array check (jsonb_typeof(plan) = 'array'),
    constraint fix_runs_files_array check (jsonb_typeof(files) = 'array'),
    -- The closed set of docs/fix-agent.md; a diff and a fallback never come together.
    constraint fix_runs_fallback_known check (
        fallback is null or fallback ->> 'label' in (
            'no_model_configured', 'no_repository', 'repository_unavailable', 'model_error', 'timeout', 'no_diff',
            'invalid_diff', 'diff_too_large', 'checks_failed'
        )
    ),
    constraint fix_runs_diff_or_fallback check (
        status = 'running'
        or (status = 'completed' and diff is not null and fallback is null and base_sha is not null)
        or (status = 'fallback' and diff is null and fallback is not null)
    ),
    constraint fix_runs_base_sha_hex check (base_sha ~ '^[0-9a-f]{40}([0-9a-f]{24})?$'),
    constraint fix_runs_finished_when_done check ((status = 'running') = (finished_at is null)),
    constraint fix_runs_actor_kind_known check (actor_kind in ('user', 'service'))
);
-- GET /api/incidents/{id}/fix-runs: newest first, keyset-paginated.
create index fix_runs_workspace_incident_started_idx on app.fix_runs (
    workspace_id, incident_id, started_at desc, fix_run_id desc
);
-- The per-workspace concurrency limit counts the runs in flight.
create index fix_runs_workspace_running_idx on app.fix_runs (workspace_id, deadline_at) where status = 'running';
comment on table app.fix_runs is
'Fix-agent runs for an incident: the plan, the validated diff or a labelled fallback. Never holds a credential.';
comment on column app.fix_runs.workspace_id is 'Owning workspace.';
comment on column app.fix_runs.fix_run_id is 'Prefixed id (fix_…).';
comment on column app.fix_runs.project_id is 'Project of the incident.';
comment on column app.fix_runs.incident_id is 'The incident the run proposes a fix for.';
comment on column app.fix_runs.runner is 'rules (deterministic plan only) or model (an OpenAI-compatible chat model).';
comment on column app.fix_runs.status is 'running, completed (a diff that applies) or fallback (plan with a labelled reason).';
comment on column app.fix_runs.plan is 'The plan: [{step, text}], from the rules runner or the model.';
comment on column app.fix_runs.diff is 'Unified diff that passed git apply --check at base_sha (and the checks, if any), else null.';
comment on column app.fix_runs.fallback is 'Why no diff came back: {label, reason}, label from the closed set of docs/fix-agent.md.';
comment on column app.fix_runs.base_sha is 'The pinned commit the diff was validated against, when a repository was read.';
comment on column app.fix_runs.repository is 'Display name of the repository read (github:owner/repo or local:name); never a credential.';
comment on column app.fix_runs.model is 'Model name asked, for model runs.';
comment on column app.fix_runs.files is 'Repository paths sent to the model, in the order chosen.';
comment on column app.fix_runs.checks is 'The check command''s outcome {status, exit_code, output_tail, duration_ms}, when one ran.';
comment on column app.fix_runs.timings is 'Milliseconds spent per phase: repository, model, validation, checks, total.';
comment on column app.fix_runs.actor_kind is 'Who asked: user (console JWT) or service.';
comment on column app.fix_runs.actor_id is 'The user id; null for the service.';
comment on column app.fix_runs.request_id is 'The API request that started the run (X-Request-Id).';
comment on column app.fix_runs.started_at is 'When the run started.';
comment on column app.fix_runs.deadline_at is 'started_at plus the budget: a run still running after it no longer counts as in flight.';
comment on column app.fix_runs.finished_at is 'When the outcome was stored; null while running.';
comment on index app.fix_runs_workspace_incident_started_idx is 'Newest-first keyset paging of an incident''s fix runs.';
comment on index app.fix_runs_workspace_running_idx is 'Counts a workspace''s fix runs in flight (the concurrency limit).';
