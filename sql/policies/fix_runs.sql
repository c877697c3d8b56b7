-- Fix runs: read by whoever sees the incident's project; started and finished (through
-- api.start_fix_run / api.finish_fix_run) only in projects the credential may write to. API keys
-- read only; nothing deletes a run but its incident's deletion.

alter table app.fix_runs enable row level security;
alter table app.fix_runs force row level security;
revoke all on app.fix_runs from public, authenticated, agentdeck_key, service_role, anon;
grant select on app.fix_runs to authenticated, agentdeck_key, service_role;
grant insert (
    workspace_id, fix_run_id, project_id, incident_id, runner, actor_kind, actor_id, request_id, deadline_at
) on app.fix_runs to authenticated, service_role;
grant update (
    status, plan, diff, fallback, base_sha, repository, model, files, checks, timings, finished_at
) on app.fix_runs to authenticated, service_role;
drop policy if exists fix_runs_owner on app.fix_runs;
create policy fix_runs_owner on app.fix_runs to agentdeck_owner using (true) with check (true);
comment on policy fix_runs_owner on app.fix_runs is 'The owner (admin) sees and writes all.';
drop policy if exists fix_runs_visible on app.fix_runs;
create policy fix_runs_visible on app.fix_runs for select
to authenticated, agentdeck_key, service_role
using ((workspace_id, project_id) in (select * from internal.visible_projects()));
comment on policy fix_runs_visible on app.fix_runs is 'Fix runs of the projects the credential sees.';
drop policy if exists fix_runs_insert on app.fix_runs;
create policy fix_runs_insert on app.fix_runs for insert
to authenticated, service_role
with check ((workspace_id, project_id) in (select * from internal.writable_projects()));
comment on policy fix_runs_insert on app.fix_runs is 'New runs only in writable projects (not viewers).';
drop policy if exists fix_runs_update on app.fix_runs;
create policy fix_runs_update on app.fix_runs for update
to authenticated, service_role
using ((workspace_id, project_id) in (select * from internal.writable_projects()))
with check ((workspace_id, project_id) in (select * from internal.writable_projects()));
comment on policy fix_runs_update on app.fix_runs is 'Outcomes only in writable projects (not viewers).';
