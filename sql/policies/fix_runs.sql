-- Fix runs: read by whoever sees the incident's project; written only by the security definer
-- api.start_fix_run / api.finish_fix_run after their write checks (docs/database.md). API keys
-- read only; nothing deletes a run but its incident's deletion.

alter table app.fix_runs enable row level security;
alter table app.fix_runs force row level security;
revoke all on app.fix_runs from public, authenticated, agentdeck_key, service_role, anon;
grant select on app.fix_runs to authenticated, agentdeck_key, service_role;
drop policy if exists fix_runs_owner on app.fix_runs;
create policy fix_runs_owner on app.fix_runs to agentdeck_owner using (true) with check (true);
comment on policy fix_runs_owner on app.fix_runs is 'The owner (admin) sees and writes all.';
drop policy if exists fix_runs_visible on app.fix_runs;
create policy fix_runs_visible on app.fix_runs for select
to authenticated, agentdeck_key, service_role
using ((workspace_id, project_id) in (select * from internal.visible_projects()));
comment on policy fix_runs_visible on app.fix_runs is 'Fix runs of the projects the credential sees.';
-- Policies of earlier versions, when request roles wrote runs themselves.
drop policy if exists fix_runs_insert on app.fix_runs;
drop policy if exists fix_runs_update on app.fix_runs;
