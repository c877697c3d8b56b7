-- Sessions, events and the stream: read what the credential sees. Every write goes through the
-- api functions (security definer, after their checks): no request role may insert, update or
-- delete a row here, so ordering, last_seq and stream positions cannot be forged.

alter table app.trace_sessions enable row level security;
alter table app.trace_sessions force row level security;
revoke all on app.trace_sessions from public, authenticated, agentdeck_key, service_role, anon;
grant select on app.trace_sessions to authenticated, agentdeck_key, service_role;
drop policy if exists trace_sessions_owner on app.trace_sessions;
create policy trace_sessions_owner on app.trace_sessions to agentdeck_owner using (true) with check (true);
comment on policy trace_sessions_owner on app.trace_sessions is 'The owner (admin, definer helpers) sees all.';
drop policy if exists trace_sessions_visible on app.trace_sessions;
create policy trace_sessions_visible on app.trace_sessions for select
to authenticated, agentdeck_key, service_role
using ((workspace_id, project_id) in (select * from internal.visible_projects()));
comment on policy trace_sessions_visible on app.trace_sessions is 'Sessions of the projects the credential sees.';

alter table app.events enable row level security;
alter table app.events force row level security;
revoke all on app.events from public, authenticated, agentdeck_key, service_role, anon;
grant select on app.events to authenticated, agentdeck_key, service_role;
drop policy if exists events_owner on app.events;
create policy events_owner on app.events to agentdeck_owner using (true) with check (true);
comment on policy events_owner on app.events is 'The owner (admin, definer helpers) sees all.';
drop policy if exists events_visible on app.events;
create policy events_visible on app.events for select
to authenticated, agentdeck_key, service_role
using ((workspace_id, project_id) in (select * from internal.visible_projects()));
comment on policy events_visible on app.events is 'Events of the projects the credential sees.';

alter table app.stream_counters enable row level security;
alter table app.stream_counters force row level security;
revoke all on app.stream_counters from public, authenticated, agentdeck_key, service_role, anon;
drop policy if exists stream_counters_owner on app.stream_counters;
create policy stream_counters_owner on app.stream_counters to agentdeck_owner using (true) with check (true);
comment on policy stream_counters_owner on app.stream_counters is
'Only internal.take_positions (as the owner) moves the head; requests read bounds through internal.stream_bounds.';

alter table app.stream_messages enable row level security;
alter table app.stream_messages force row level security;
revoke all on app.stream_messages from public, authenticated, agentdeck_key, service_role, anon;
grant select on app.stream_messages to authenticated, agentdeck_key, service_role;
drop policy if exists stream_messages_owner on app.stream_messages;
create policy stream_messages_owner on app.stream_messages to agentdeck_owner using (true) with check (true);
comment on policy stream_messages_owner on app.stream_messages is 'The owner (admin, definer helpers) sees all.';
drop policy if exists stream_messages_visible on app.stream_messages;
create policy stream_messages_visible on app.stream_messages for select
to authenticated, agentdeck_key, service_role
using ((workspace_id, project_id) in (select * from internal.visible_projects()));
comment on policy stream_messages_visible on app.stream_messages is 'Stream messages of the projects the credential sees.';

alter table app.session_facets enable row level security;
alter table app.session_facets force row level security;
revoke all on app.session_facets from public, authenticated, agentdeck_key, service_role, anon;
grant select on app.session_facets to authenticated, agentdeck_key, service_role;
drop policy if exists session_facets_owner on app.session_facets;
create policy session_facets_owner on app.session_facets to agentdeck_owner using (true) with check (true);
comment on policy session_facets_owner on app.session_facets is 'The owner (the triggers that keep it) sees all.';
drop policy if exists session_facets_visible on app.session_facets;
create policy session_facets_visible on app.session_facets for select
to authenticated, agentdeck_key, service_role
using ((workspace_id, project_id) in (select * from internal.visible_projects()));
comment on policy session_facets_visible on app.session_facets is 'Facets of the sessions of the projects the credential sees.';
