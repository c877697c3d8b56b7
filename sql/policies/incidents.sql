-- Incidents and their session links: read what the credential sees. Rows are created and counted
-- only by clustering, and status and owner change only through api.update_incident: both security
-- definer, as the owner, after their checks. Clustering settings are the operator's.

alter table app.incidents enable row level security;
alter table app.incidents force row level security;
revoke all on app.incidents from public, authenticated, agentdeck_key, service_role, anon;
grant select on app.incidents to authenticated, agentdeck_key, service_role;
drop policy if exists incidents_owner on app.incidents;
create policy incidents_owner on app.incidents to agentdeck_owner using (true) with check (true);
comment on policy incidents_owner on app.incidents is 'The owner (clustering, admin) sees and writes all.';
drop policy if exists incidents_visible on app.incidents;
create policy incidents_visible on app.incidents for select
to authenticated, agentdeck_key, service_role
using ((workspace_id, project_id) in (select * from internal.visible_projects()));
comment on policy incidents_visible on app.incidents is 'Incidents of the projects the credential sees.';

alter table app.incident_sessions enable row level security;
alter table app.incident_sessions force row level security;
revoke all on app.incident_sessions from public, authenticated, agentdeck_key, service_role, anon;
grant select on app.incident_sessions to authenticated, agentdeck_key, service_role;
drop policy if exists incident_sessions_owner on app.incident_sessions;
create policy incident_sessions_owner on app.incident_sessions to agentdeck_owner using (true) with check (true);
comment on policy incident_sessions_owner on app.incident_sessions is 'The owner (clustering, admin) sees and writes all.';
drop policy if exists incident_sessions_visible on app.incident_sessions;
create policy incident_sessions_visible on app.incident_sessions for select
to authenticated, agentdeck_key, service_role
using ((workspace_id, project_id) in (select * from internal.visible_projects()));
comment on policy incident_sessions_visible on app.incident_sessions is 'Links of the projects the credential sees.';

alter table app.incident_settings enable row level security;
alter table app.incident_settings force row level security;
revoke all on app.incident_settings from public, authenticated, agentdeck_key, service_role, anon;
drop policy if exists incident_settings_owner on app.incident_settings;
create policy incident_settings_owner on app.incident_settings to agentdeck_owner using (true) with check (true);
comment on policy incident_settings_owner on app.incident_settings is
'Set by the operator as the owner; clustering reads them as the owner. No request role has a grant.';
