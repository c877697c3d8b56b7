-- Reads whose cost does not grow with history, stream retention per workspace, a cheaper events insert.
-- Why: docs/decisions/0015-history-independent-reads-and-ingest.md.
--
-- Under RLS PostgreSQL only uses a query's own predicate in an index scan when every operator in
-- it is leakproof. `position + message_count > $1` is not (int8pl can overflow), nor is
-- `agent ->> 'name' = $1` (jsonb_object_field_text): both are stored as columns here, so the
-- predicates the hot reads use are plain leakproof comparisons on indexed columns.

alter table app.stream_messages add column end_position bigint generated always as (position + message_count) stored;
comment on column app.stream_messages.end_position is
'position + message_count: the first position after this row, stored so that reads after a cursor use an index under RLS.';

drop index app.stream_messages_workspace_end_idx;
-- Resuming after p needs the row covering p + 1, which may start at or before p: rows are
-- disjoint and increasing, so "end_position > p + 1" in end_position order is one range scan.
create index stream_messages_workspace_end_idx on app.stream_messages (workspace_id, end_position);
comment on index app.stream_messages_workspace_end_idx is
'Workspace-wide stream reads after a cursor (the hub''s fetch, members'' backfill, retention).';
-- An API key (or a project_id filter) reads one project's rows only, not the workspace's.
create index stream_messages_project_end_idx on app.stream_messages (workspace_id, project_id, end_position);
comment on index app.stream_messages_project_end_idx is
'Stream reads of one project after a cursor (API keys, project_id filters).';

alter table app.trace_sessions add column agent_name text generated always as (agent ->> 'name') stored;
comment on column app.trace_sessions.agent_name is 'agent.name, stored for the indexed agent filter of GET /api/sessions.';

-- GET /api/sessions: every index below serves the newest-first order within one workspace, so a
-- page reads about `limit` index entries whatever the history (api.list_sessions).
create index trace_sessions_project_created_idx on app.trace_sessions (
    workspace_id, project_id, created_at desc, trace_id desc
);
comment on index app.trace_sessions_project_created_idx is
'Newest-first sessions of one project (project_id filter, API keys).';
create index trace_sessions_status_created_idx on app.trace_sessions (
    workspace_id, status, created_at desc, project_id desc, trace_id desc
);
comment on index app.trace_sessions_status_created_idx is 'Newest-first sessions by status.';
create index trace_sessions_agent_created_idx on app.trace_sessions (
    workspace_id, agent_name, created_at desc, project_id desc, trace_id desc
);
comment on index app.trace_sessions_agent_created_idx is 'Newest-first sessions by agent name.';
create index trace_sessions_environment_created_idx on app.trace_sessions (
    workspace_id, environment, created_at desc, project_id desc, trace_id desc
);
comment on index app.trace_sessions_environment_created_idx is 'Newest-first sessions by environment.';

alter table app.workspaces add column stream_retention interval;
alter table app.workspaces add constraint workspaces_stream_retention_positive check (
    stream_retention > interval '0'
);
comment on column app.workspaces.stream_retention is
'How long stream messages are kept; null: the server default (AGENTDECK_STREAM_RETENTION_SECONDS).';

-- Ingest: the per-row foreign-key check of app.events cost as much as the rest of the insert
-- (2.4x on a 100,000-row insert here). Events are only ever inserted by api.append_events, with
-- their session row locked, so the reference holds by construction; the cascade on delete is kept
-- by a statement-level trigger (internal.delete_session_events, sql/functions/ingest.sql).
alter table app.events drop constraint events_session_fk;
