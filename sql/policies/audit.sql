-- The audit log is append-only. Request roles may read it (not API keys) and hold no insert,
-- update or delete grant: rows arrive only through internal.write_audit. Even the owner's
-- policies allow only select and insert, so no definer function can rewrite history.

alter table app.audit_log enable row level security;
alter table app.audit_log force row level security;
revoke all on app.audit_log from public, authenticated, agentdeck_key, service_role, anon;
grant select on app.audit_log to authenticated, service_role;
drop policy if exists audit_log_owner_read on app.audit_log;
create policy audit_log_owner_read on app.audit_log for select to agentdeck_owner using (true);
comment on policy audit_log_owner_read on app.audit_log is 'The owner (admin, definer helpers) reads all.';
drop policy if exists audit_log_owner_append on app.audit_log;
create policy audit_log_owner_append on app.audit_log for insert to agentdeck_owner with check (true);
comment on policy audit_log_owner_append on app.audit_log is
'internal.write_audit appends as the owner; there is no update or delete policy for anyone.';
drop policy if exists audit_log_visible on app.audit_log;
create policy audit_log_visible on app.audit_log for select
to authenticated, service_role
using (
    (workspace_id, project_id) in (select * from internal.visible_projects())
    or (project_id is null and workspace_id in (select internal.visible_workspaces()))
);
comment on policy audit_log_visible on app.audit_log is
'Members and the service read the history of projects they see, and their workspaces'' own entries (no project).';
