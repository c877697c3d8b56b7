-- Incidents: failures clustered per project by fingerprint, the sessions linked to each, the
-- clustering threshold per workspace, and the append-only audit log. See docs/incidents.md.

create table app.incidents (
    workspace_id text not null,
    incident_id text not null,
    project_id text not null,
    fingerprint text not null,
    rules_version integer not null,
    label text not null,
    tool text,
    error_type text,
    message text not null,
    title text generated always as (
        label || coalesce(' in ' || tool, '') || case when message <> '' then ': ' || message else '' end
    ) stored,
    status text not null default 'open',
    owner uuid,
    regressed boolean not null default false,
    session_count integer not null default 0,
    occurrence_count bigint not null default 0,
    first_seen timestamptz not null,
    last_seen timestamptz not null,
    resolved_at timestamptz,
    created_at timestamptz not null default clock_timestamp(),
    updated_at timestamptz not null default clock_timestamp(),
    constraint incidents_pkey primary key (workspace_id, incident_id),
    -- The clustering key: concurrent analyses sharing a fingerprint meet on this index.
    constraint incidents_project_fingerprint_key unique (workspace_id, project_id, fingerprint),
    constraint incidents_project_fk foreign key (workspace_id, project_id)
    references app.projects (workspace_id, project_id) on delete cascade,
    -- Losing the membership unassigns the incident; the row stays.
    constraint incidents_owner_member_fk foreign key (workspace_id, owner)
    references app.workspace_members (workspace_id, user_id) on delete set null (owner),
    constraint incidents_id_prefixed check (incident_id ~ '^inc_[A-Za-z0-9]+$'),
    constraint incidents_fingerprint_sha256 check (fingerprint ~ '^[0-9a-f]{64}$'),
    constraint incidents_status_known check (status in ('open', 'acknowledged', 'resolved', 'ignored')),
    constraint incidents_resolved_at_when_resolved check ((status = 'resolved') = (resolved_at is not null)),
    constraint incidents_counts_nonnegative check (session_count >= 0 and occurrence_count >= 0),
    constraint incidents_seen_in_order check (first_seen <= last_seen)
);
-- GET /api/incidents: most recently seen first, keyset-paginated.
create index incidents_workspace_last_seen_idx on app.incidents (workspace_id, last_seen desc, incident_id desc);
comment on table app.incidents is
'A failure seen in one or more sessions of a project, keyed by fingerprint; written only by clustering and PATCH.';
comment on column app.incidents.workspace_id is 'Owning workspace.';
comment on column app.incidents.incident_id is 'Prefixed id (inc_…).';
comment on column app.incidents.project_id is 'Owning project: incidents never span projects.';
comment on column app.incidents.fingerprint is
'sha256 hex of rules version, label, tool, error type and normalised message (internal.failure_fingerprint).';
comment on column app.incidents.rules_version is 'Version of the normalisation rules the fingerprint was made with.';
comment on column app.incidents.label is 'Detector label of the failure.';
comment on column app.incidents.tool is 'Tool of the failure signature, if any (verbatim).';
comment on column app.incidents.error_type is 'Error type of the failure signature, if any (verbatim).';
comment on column app.incidents.message is 'Normalised message of the failure signature (internal.normalize_failure_message).';
comment on column app.incidents.title is 'Display title: label, tool and normalised message.';
comment on column app.incidents.status is 'open, acknowledged, resolved or ignored.';
comment on column app.incidents.owner is 'Assignee: a member of the workspace (user id), or null.';
comment on column app.incidents.regressed is 'Reopened by a new occurrence after it was resolved; cleared when resolved again.';
comment on column app.incidents.session_count is 'Sessions linked now (one per session, whatever its re-analyses).';
comment on column app.incidents.occurrence_count is
'Sum over linked sessions of the finding''s unrecovered occurrences (evidence.facts.occurrences, else 1).';
comment on column app.incidents.first_seen is 'Earliest seen_at among linked sessions (kept when none remain).';
comment on column app.incidents.last_seen is 'Latest seen_at among linked sessions (kept when none remain).';
comment on column app.incidents.resolved_at is 'When it was last resolved; set exactly while status is resolved.';
comment on column app.incidents.created_at is 'When the first occurrence was clustered.';
comment on column app.incidents.updated_at is 'Last change to the row.';
comment on index app.incidents_workspace_last_seen_idx is 'Most-recently-seen-first keyset paging of GET /api/incidents.';

create table app.incident_sessions (
    workspace_id text not null,
    incident_id text not null,
    project_id text not null,
    trace_id text not null,
    critical_seq bigint,
    confidence numeric(3, 2) not null,
    occurrences integer not null,
    seen_at timestamptz not null,
    linked_at timestamptz not null default clock_timestamp(),
    constraint incident_sessions_pkey primary key (workspace_id, incident_id, trace_id),
    constraint incident_sessions_incident_fk foreign key (workspace_id, incident_id)
    references app.incidents (workspace_id, incident_id) on delete cascade,
    constraint incident_sessions_session_fk foreign key (workspace_id, project_id, trace_id)
    references app.trace_sessions (workspace_id, project_id, trace_id) on delete cascade,
    constraint incident_sessions_occurrences_positive check (occurrences >= 1),
    constraint incident_sessions_confidence_range check (confidence between 0 and 1)
);
-- Re-analysis replaces a session's links, and GET /api/sessions?incident_id=… probes them.
create index incident_sessions_session_idx on app.incident_sessions (workspace_id, project_id, trace_id, incident_id);
-- first_seen/last_seen (min/max) and the latest sample sessions of an incident, without a scan.
create index incident_sessions_incident_seen_idx on app.incident_sessions (workspace_id, incident_id, seen_at);
comment on table app.incident_sessions is
'Which sessions show which incident: one row per (incident, session), replaced when the session is re-analysed.';
comment on column app.incident_sessions.workspace_id is 'Owning workspace.';
comment on column app.incident_sessions.incident_id is 'The incident.';
comment on column app.incident_sessions.project_id is 'Project of the session (and of the incident).';
comment on column app.incident_sessions.trace_id is 'The session.';
comment on column app.incident_sessions.critical_seq is 'The finding''s critical seq in the session, if it has one.';
comment on column app.incident_sessions.confidence is 'The finding''s confidence.';
comment on column app.incident_sessions.occurrences is 'The finding''s unrecovered occurrences in the session (at least 1).';
comment on column app.incident_sessions.seen_at is
'Server time the failure arrived: received_at of the critical event, else the session''s creation.';
comment on column app.incident_sessions.linked_at is 'When the link was first made.';
comment on index app.incident_sessions_session_idx is 'A session''s links: re-analysis and the sessions incident_id filter.';
comment on index app.incident_sessions_incident_seen_idx is 'An incident''s first and last seen and its latest sessions.';

create table app.incident_settings (
    workspace_id text not null,
    min_confidence numeric(3, 2) not null,
    updated_at timestamptz not null default now(),
    constraint incident_settings_pkey primary key (workspace_id),
    constraint incident_settings_workspace_fk foreign key (workspace_id)
    references app.workspaces (workspace_id) on delete cascade,
    constraint incident_settings_confidence_range check (min_confidence between 0 and 1)
);
comment on table app.incident_settings is
'Clustering settings per workspace, set by the operator; a workspace without a row uses the defaults.';
comment on column app.incident_settings.workspace_id is 'The workspace.';
comment on column app.incident_settings.min_confidence is
'Findings below this confidence open no incident (default 0.8: keyword-only matches do not).';
comment on column app.incident_settings.updated_at is 'When the settings were last changed.';

create table app.audit_log (
    workspace_id text not null,
    audit_id bigint generated always as identity,
    project_id text,
    actor_kind text not null,
    actor_id text,
    action text not null,
    target_type text not null,
    target_id text not null,
    before jsonb,
    after jsonb,
    request_id text,
    created_at timestamptz not null default clock_timestamp(),
    -- No foreign keys on purpose: the record outlives what it describes.
    constraint audit_log_pkey primary key (workspace_id, audit_id),
    constraint audit_log_actor_kind_known check (actor_kind in ('user', 'key', 'service')),
    constraint audit_log_action_format check (action ~ '^[a-z_]+\.[a-z_]+$')
);
-- "What happened to this incident (analysis, fix run, …)?", in order.
create index audit_log_workspace_target_idx on app.audit_log (workspace_id, target_type, target_id, audit_id);
comment on table app.audit_log is
'Append-only record of changes: no request role may update or delete it, and the owner''s policy allows neither.';
comment on column app.audit_log.workspace_id is 'Workspace of the target.';
comment on column app.audit_log.audit_id is 'Increasing id: the order entries were written in.';
comment on column app.audit_log.project_id is 'Project of the target, if it has one.';
comment on column app.audit_log.actor_kind is 'user (console JWT), key (project API key) or service (server-side workflow).';
comment on column app.audit_log.actor_id is 'The user id or key id; null for the service.';
comment on column app.audit_log.action is
'What was done: incident.updated, incident.regressed, analysis.stored (and later fix and regression runs).';
comment on column app.audit_log.target_type is 'Kind of object acted on: incident, analysis, …';
comment on column app.audit_log.target_id is 'Id of the object acted on (an incident id, a session id, …).';
comment on column app.audit_log.before is 'The target''s relevant state before the change (null when created).';
comment on column app.audit_log.after is 'The target''s relevant state after the change.';
comment on column app.audit_log.request_id is 'The API request that made the change (X-Request-Id), when known.';
comment on column app.audit_log.created_at is 'When the entry was written.';
comment on index app.audit_log_workspace_target_idx is 'The history of one target, in order.';
