-- Sessions, events and the stream: read what the credential sees, write where it may write.

alter table app.trace_sessions enable row level security;
alter table app.trace_sessions force row level security;
revoke all on app.trace_sessions from public, authenticated, agentdeck_key, service_role, anon;
grant select, insert on app.trace_sessions to authenticated, agentdeck_key, service_role;
grant update (status, ended_at, last_seq, event_count, error_count, updated_at) on app.trace_sessions
to authenticated, agentdeck_key, service_role;
drop policy if exists trace_sessions_owner on app.trace_sessions;
create policy trace_sessions_owner on app.trace_sessions to agentdeck_owner using (true) with check (true);
comment on policy trace_sessions_owner on app.trace_sessions is 'The owner (admin, definer helpers) sees all.';
drop policy if exists trace_sessions_visible on app.trace_sessions;
create policy trace_sessions_visible on app.trace_sessions for select
to authenticated, agentdeck_key, service_role
using ((workspace_id, project_id) in (select * from internal.visible_projects()));
comment on policy trace_sessions_visible on app.trace_sessions is 'Sessions of the projects the credential sees.';
drop policy if exists trace_sessions_insert on app.trace_sessions;
create policy trace_sessions_insert on app.trace_sessions for insert
to authenticated, agentdeck_key, service_role
with check ((workspace_id, project_id) in (select * from internal.writable_projects()));
comment on policy trace_sessions_insert on app.trace_sessions is 'New sessions only in writable projects.';
drop policy if exists trace_sessions_update on app.trace_sessions;
create policy trace_sessions_update on app.trace_sessions for update
to authenticated, agentdeck_key, service_role
using ((workspace_id, project_id) in (select * from internal.writable_projects()))
with check ((workspace_id, project_id) in (select * from internal.writable_projects()));
comment on policy trace_sessions_update on app.trace_sessions is 'Appending events updates counters of writable sessions.';

alter table app.events enable row level security;
alter table app.events force row level security;
revoke all on app.events from public, authenticated, agentdeck_key, service_role, anon;
grant select, insert on app.events to authenticated, agentdeck_key, service_role;
drop policy if exists events_owner on app.events;
create policy events_owner on app.events to agentdeck_owner using (true) with check (true);
comment on policy events_owner on app.events is 'The owner (admin, definer helpers) sees all.';
drop policy if exists events_visible on app.events;
create policy events_visible on app.events for select
to authenticated, agentdeck_key, service_role
using ((workspace_id, project_id) in (select * from internal.visible_projects()));
comment on policy events_visible on app.events is 'Events of the projects the credential sees.';
drop policy if exists events_insert on app.events;
create policy events_insert on app.events for insert
to authenticated, agentdeck_key, service_role
with check ((workspace_id, project_id) in (select * from internal.writable_projects()));
comment on policy events_insert on app.events is 'Events are appended only to writable projects; never updated or deleted.';

alter table app.stream_counters enable row level security;
alter table app.stream_counters force row level security;
revoke all on app.stream_counters from public, authenticated, agentdeck_key, service_role, anon;
grant select, insert, update on app.stream_counters to authenticated, agentdeck_key, service_role;
drop policy if exists stream_counters_owner on app.stream_counters;
create policy stream_counters_owner on app.stream_counters to agentdeck_owner using (true) with check (true);
comment on policy stream_counters_owner on app.stream_counters is 'The owner (admin, definer helpers) sees all.';
drop policy if exists stream_counters_writers on app.stream_counters;
create policy stream_counters_writers on app.stream_counters
to authenticated, agentdeck_key, service_role
using (workspace_id in (select w.workspace_id from internal.writable_projects() as w))
with check (workspace_id in (select w.workspace_id from internal.writable_projects() as w));
comment on policy stream_counters_writers on app.stream_counters is
'Writers take positions in the workspaces they may write to.';

alter table app.stream_messages enable row level security;
alter table app.stream_messages force row level security;
revoke all on app.stream_messages from public, authenticated, agentdeck_key, service_role, anon;
grant select, insert on app.stream_messages to authenticated, agentdeck_key, service_role;
drop policy if exists stream_messages_owner on app.stream_messages;
create policy stream_messages_owner on app.stream_messages to agentdeck_owner using (true) with check (true);
comment on policy stream_messages_owner on app.stream_messages is 'The owner (admin, definer helpers) sees all.';
drop policy if exists stream_messages_visible on app.stream_messages;
create policy stream_messages_visible on app.stream_messages for select
to authenticated, agentdeck_key, service_role
using ((workspace_id, project_id) in (select * from internal.visible_projects()));
comment on policy stream_messages_visible on app.stream_messages is 'Stream messages of the projects the credential sees.';
drop policy if exists stream_messages_insert on app.stream_messages;
create policy stream_messages_insert on app.stream_messages for insert
to authenticated, agentdeck_key, service_role
with check ((workspace_id, project_id) in (select * from internal.writable_projects()));
comment on policy stream_messages_insert on app.stream_messages is 'Writers log messages of writable projects.';
