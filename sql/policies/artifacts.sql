-- Artifacts: read what the credential sees. Records are written only by api.record_artifact (security
-- definer, after its write check), never updated or deleted by requests (a session's deletion cascades).

alter table app.artifacts enable row level security;
alter table app.artifacts force row level security;
revoke all on app.artifacts from public, authenticated, agentdeck_key, service_role, anon;
grant select on app.artifacts to authenticated, agentdeck_key, service_role;
drop policy if exists artifacts_owner on app.artifacts;
create policy artifacts_owner on app.artifacts to agentdeck_owner using (true) with check (true);
comment on policy artifacts_owner on app.artifacts is 'The owner (admin, definer helpers) sees all.';
drop policy if exists artifacts_visible on app.artifacts;
create policy artifacts_visible on app.artifacts for select
to authenticated, agentdeck_key, service_role
using ((workspace_id, project_id) in (select * from internal.visible_projects()));
comment on policy artifacts_visible on app.artifacts is 'Artifacts of the projects the credential sees.';
