-- Trace sessions, their ordered events, and the per-workspace stream those events are positioned in.

create table app.trace_sessions (
    workspace_id text not null,
    project_id text not null,
    trace_id text not null,
    name text,
    agent jsonb,
    environment text,
    tags text[] not null default '{}',
    metadata jsonb not null default '{}',
    status text not null default 'running',
    started_at timestamptz not null default clock_timestamp(),
    ended_at timestamptz,
    last_seq bigint,
    event_count integer not null default 0,
    error_count integer not null default 0,
    create_hash bytea not null,
    created_at timestamptz not null default clock_timestamp(),
    updated_at timestamptz not null default clock_timestamp(),
    constraint trace_sessions_pkey primary key (workspace_id, project_id, trace_id),
    constraint trace_sessions_project_fk foreign key (workspace_id, project_id)
    references app.projects (workspace_id, project_id) on delete cascade,
    constraint trace_sessions_id_format check (trace_id ~ '^[A-Za-z0-9_.:-]{1,128}$'),
    constraint trace_sessions_status_known check (status in ('running', 'success', 'failure', 'error', 'cancelled')),
    constraint trace_sessions_last_seq_nonnegative check (last_seq >= 0),
    constraint trace_sessions_ended_when_not_running check ((status = 'running') = (ended_at is null))
);
-- Lookups by id alone (the URL carries no project) within the caller's workspaces.
create index trace_sessions_workspace_trace_idx on app.trace_sessions (workspace_id, trace_id);
-- GET /api/sessions: newest first, keyset-paginated.
create index trace_sessions_workspace_created_idx on app.trace_sessions (
    workspace_id, created_at desc, project_id desc, trace_id desc
);
comment on table app.trace_sessions is 'One agent run. Its id is unique per project; client-chosen ids make creation idempotent.';
comment on column app.trace_sessions.workspace_id is 'Owning workspace.';
comment on column app.trace_sessions.project_id is 'Owning project.';
comment on column app.trace_sessions.trace_id is 'Client-chosen or server-made id (1-128 of [A-Za-z0-9_.:-]).';
comment on column app.trace_sessions.name is 'Display name of the run.';
comment on column app.trace_sessions.agent is 'The agent: {"name", "version"}.';
comment on column app.trace_sessions.environment is 'Free-form environment label (prod, staging, ci, …).';
comment on column app.trace_sessions.tags is 'Free-form tags, filterable.';
comment on column app.trace_sessions.metadata is 'Client metadata object.';
comment on column app.trace_sessions.status is 'running until a session.end event sets the outcome.';
comment on column app.trace_sessions.started_at is 'Client-supplied start time, else creation time.';
comment on column app.trace_sessions.ended_at is 'When the session.end event was accepted.';
comment on column app.trace_sessions.last_seq is 'Highest accepted seq; null before the first event.';
comment on column app.trace_sessions.event_count is 'Accepted events.';
comment on column app.trace_sessions.error_count is 'Accepted error events and failed tool results.';
comment on column app.trace_sessions.create_hash is 'sha256 of the creating request, to tell a retried create from a conflicting one.';
comment on column app.trace_sessions.created_at is 'Server time of creation (clock time, for stable paging).';
comment on column app.trace_sessions.updated_at is 'Last change to the row.';
comment on index app.trace_sessions_workspace_trace_idx is 'Resolves /api/traces/{id} within the caller''s workspaces.';
comment on index app.trace_sessions_workspace_created_idx is 'Newest-first keyset paging of GET /api/sessions.';

create table app.events (
    workspace_id text not null,
    project_id text not null,
    trace_id text not null,
    seq bigint not null,
    idempotency_key text not null,
    type text not null,
    name text,
    payload jsonb not null default '{}',
    parent_seq bigint,
    client_ts timestamptz,
    received_at timestamptz not null default now(),
    content_hash bytea not null,
    constraint events_pkey primary key (workspace_id, project_id, trace_id, seq),
    constraint events_session_fk foreign key (workspace_id, project_id, trace_id)
    references app.trace_sessions (workspace_id, project_id, trace_id) on delete cascade,
    constraint events_seq_nonnegative check (seq >= 0),
    constraint events_idempotency_key_length check (length(idempotency_key) between 1 and 256),
    constraint events_type_format check (type ~ '^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$')
);
-- Replays are recognised by key; one key names one event per session. The key comes second so
-- the planner can never mistake this index for the seq lookup (the primary key) or vice versa,
-- even before statistics exist.
create unique index events_workspace_session_key_idx on app.events (
    workspace_id, idempotency_key, project_id, trace_id
);
comment on table app.events is 'Ordered events of a session. Order is seq, never the client timestamp.';
comment on column app.events.workspace_id is 'Owning workspace.';
comment on column app.events.project_id is 'Owning project.';
comment on column app.events.trace_id is 'The session.';
comment on column app.events.seq is 'Client sequence number, strictly increasing per session.';
comment on column app.events.idempotency_key is 'Replay key; defaults to "{trace_id}:{seq}".';
comment on column app.events.type is 'Event type (session.start, tool.call, custom.*, …); see docs/events.md.';
comment on column app.events.name is 'Optional display name.';
comment on column app.events.payload is 'Type-specific payload, validated by the API against the event schema.';
comment on column app.events.parent_seq is 'The seq this event answers or nests under, if any.';
comment on column app.events.client_ts is 'Client timestamp: informative only, never used for ordering.';
comment on column app.events.received_at is 'Server receive time (the appending transaction''s start).';
comment on column app.events.content_hash is 'sha256 of the canonical event (seq, type, name, ts, payload, parent_seq).';
comment on index app.events_workspace_session_key_idx is 'Idempotency: an exact replay finds its stored twin here.';

create table app.stream_counters (
    workspace_id text not null,
    last_position bigint not null default 0,
    constraint stream_counters_pkey primary key (workspace_id),
    constraint stream_counters_workspace_fk foreign key (workspace_id)
    references app.workspaces (workspace_id) on delete cascade
);
comment on table app.stream_counters is
'The per-workspace stream head. Bumped as the last write of a transaction, so positions are gap-free and commit-ordered.';
comment on column app.stream_counters.workspace_id is 'The workspace.';
comment on column app.stream_counters.last_position is 'Highest position taken in the workspace.';

create table app.stream_messages (
    workspace_id text not null,
    position bigint not null,
    message_count integer not null,
    kind text not null,
    project_id text not null,
    trace_id text,
    event_seqs bigint[],
    payload jsonb,
    created_at timestamptz not null default now(),
    constraint stream_messages_pkey primary key (workspace_id, position),
    constraint stream_messages_workspace_fk foreign key (workspace_id)
    references app.workspaces (workspace_id) on delete cascade,
    constraint stream_messages_kind_known check (
        kind in ('trace.event', 'session.updated', 'analysis.completed', 'incident.updated')
    ),
    constraint stream_messages_events_carry_seqs check (
        (kind = 'trace.event') = (event_seqs is not null)
        and message_count = coalesce(cardinality(event_seqs), 1)
    ),
    constraint stream_messages_position_positive check (position >= 1)
);
-- Finds the batch (and so the position) of a session's event by its seq: batches of one session
-- cover increasing, disjoint seq ranges, so the last batch starting at or below a seq holds it.
create index stream_messages_session_first_seq_idx on app.stream_messages (
    workspace_id, project_id, trace_id, (event_seqs[1])
) where kind = 'trace.event';
comment on table app.stream_messages is
'The stream log. A trace.event row covers positions [position, position + message_count) of one batch.';
comment on column app.stream_messages.workspace_id is 'The workspace whose stream this is.';
comment on column app.stream_messages.position is 'First position covered (the SSE id of the first message).';
comment on column app.stream_messages.message_count is 'Positions covered: one per accepted event, 1 for other kinds.';
comment on column app.stream_messages.kind is 'trace.event, session.updated, analysis.completed or incident.updated.';
comment on column app.stream_messages.project_id is 'Project of the message, for filtering.';
comment on column app.stream_messages.trace_id is 'Session of the message, if any.';
comment on column app.stream_messages.event_seqs is 'trace.event: the accepted seqs, in position order.';
comment on column app.stream_messages.payload is 'Other kinds: the message data.';
comment on column app.stream_messages.created_at is 'When the message was written.';
comment on index app.stream_messages_session_first_seq_idx is 'Position of a session''s event by seq (GET …/events).';
