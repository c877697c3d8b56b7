-- Tenancy tables: request roles read what their credential makes visible and write nothing
-- (workspaces, projects, members and keys are administered with the CLI).

alter table app.workspaces enable row level security;
alter table app.workspaces force row level security;
revoke all on app.workspaces from public, authenticated, agentdeck_key, service_role, anon;
grant select on app.workspaces to authenticated, agentdeck_key, service_role;
drop policy if exists workspaces_owner on app.workspaces;
create policy workspaces_owner on app.workspaces to agentdeck_owner using (true) with check (true);
comment on policy workspaces_owner on app.workspaces is 'Security definer helpers and the admin CLI run as the owner.';
drop policy if exists workspaces_visible on app.workspaces;
create policy workspaces_visible on app.workspaces for select
to authenticated, agentdeck_key, service_role
using (workspace_id in (select internal.visible_workspaces()));
comment on policy workspaces_visible on app.workspaces is 'A request sees the workspaces its credential resolves to.';

alter table app.projects enable row level security;
alter table app.projects force row level security;
revoke all on app.projects from public, authenticated, agentdeck_key, service_role, anon;
grant select on app.projects to authenticated, agentdeck_key, service_role;
drop policy if exists projects_owner on app.projects;
create policy projects_owner on app.projects to agentdeck_owner using (true) with check (true);
comment on policy projects_owner on app.projects is 'Security definer helpers and the admin CLI run as the owner.';
drop policy if exists projects_visible on app.projects;
create policy projects_visible on app.projects for select
to authenticated, agentdeck_key, service_role
using ((workspace_id, project_id) in (select * from internal.visible_projects()));
comment on policy projects_visible on app.projects is 'Members see every project of their workspaces; a key sees its own.';

alter table app.workspace_members enable row level security;
alter table app.workspace_members force row level security;
revoke all on app.workspace_members from public, authenticated, agentdeck_key, service_role, anon;
grant select on app.workspace_members to authenticated, service_role;
drop policy if exists workspace_members_owner on app.workspace_members;
create policy workspace_members_owner on app.workspace_members to agentdeck_owner using (true) with check (true);
comment on policy workspace_members_owner on app.workspace_members is
'Security definer helpers and the admin CLI run as the owner.';
drop policy if exists workspace_members_visible on app.workspace_members;
create policy workspace_members_visible on app.workspace_members for select
to authenticated, service_role
using (workspace_id in (select internal.visible_workspaces()));
comment on policy workspace_members_visible on app.workspace_members is
'Members see who else is in their workspaces; API keys see no one.';

alter table app.api_keys enable row level security;
alter table app.api_keys force row level security;
revoke all on app.api_keys from public, authenticated, agentdeck_key, service_role, anon;
drop policy if exists api_keys_owner on app.api_keys;
create policy api_keys_owner on app.api_keys to agentdeck_owner using (true) with check (true);
comment on policy api_keys_owner on app.api_keys is
'Only the owner (key resolution helpers, the admin CLI) touches keys; no request role has a grant.';

grant usage on schema app, api to authenticated, agentdeck_key, service_role;
