-- Analyses: readable by whoever can read the session; stored only by api.store_analysis (security
-- definer, after its write check: a viewer's POST analyze returns its result unstored). The job
-- queue is reached only through security definer functions.

alter table app.analyses enable row level security;
alter table app.analyses force row level security;
revoke all on app.analyses from public, authenticated, agentdeck_key, service_role, anon;
grant select on app.analyses to authenticated, agentdeck_key, service_role;
drop policy if exists analyses_owner on app.analyses;
create policy analyses_owner on app.analyses to agentdeck_owner using (true) with check (true);
comment on policy analyses_owner on app.analyses is 'The owner (admin, definer helpers) sees all.';
drop policy if exists analyses_visible on app.analyses;
create policy analyses_visible on app.analyses for select
to authenticated, agentdeck_key, service_role
using ((workspace_id, project_id) in (select * from internal.visible_projects()));
comment on policy analyses_visible on app.analyses is 'Analyses of the projects the credential sees.';

alter table app.analysis_jobs enable row level security;
alter table app.analysis_jobs force row level security;
revoke all on app.analysis_jobs from public, authenticated, agentdeck_key, service_role, anon;
drop policy if exists analysis_jobs_owner on app.analysis_jobs;
create policy analysis_jobs_owner on app.analysis_jobs to agentdeck_owner using (true) with check (true);
comment on policy analysis_jobs_owner on app.analysis_jobs is
'Only the definer functions (enqueue, claim, finish) touch the queue; no request role has a grant.';
