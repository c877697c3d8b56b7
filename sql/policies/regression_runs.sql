-- Regression runs and their sessions: read what the credential sees. Rows are written only by the
-- run functions (regression_runs.sql, regression_settling.sql), definers that check the caller's
-- projects first: no request role may write a run by hand (it could name any fingerprint).

alter table app.regression_runs enable row level security;
alter table app.regression_runs force row level security;
revoke all on app.regression_runs from public, authenticated, agentdeck_key, service_role, anon;
grant select on app.regression_runs to authenticated, agentdeck_key, service_role;
drop policy if exists regression_runs_owner on app.regression_runs;
create policy regression_runs_owner on app.regression_runs to agentdeck_owner using (true) with check (true);
comment on policy regression_runs_owner on app.regression_runs is 'The owner (settling, joining, admin) sees and writes all.';
drop policy if exists regression_runs_visible on app.regression_runs;
create policy regression_runs_visible on app.regression_runs for select
to authenticated, agentdeck_key, service_role
using ((workspace_id, project_id) in (select * from internal.visible_projects()));
comment on policy regression_runs_visible on app.regression_runs is 'Runs of the projects the credential sees.';

alter table app.regression_run_sessions enable row level security;
alter table app.regression_run_sessions force row level security;
revoke all on app.regression_run_sessions from public, authenticated, agentdeck_key, service_role, anon;
grant select on app.regression_run_sessions to authenticated, agentdeck_key, service_role;
drop policy if exists regression_run_sessions_owner on app.regression_run_sessions;
create policy regression_run_sessions_owner on app.regression_run_sessions to agentdeck_owner
using (true) with check (true);
comment on policy regression_run_sessions_owner on app.regression_run_sessions is
'The owner (settling, joining, admin) sees and writes all.';
drop policy if exists regression_run_sessions_visible on app.regression_run_sessions;
create policy regression_run_sessions_visible on app.regression_run_sessions for select
to authenticated, agentdeck_key, service_role
using ((workspace_id, project_id) in (select * from internal.visible_projects()));
comment on policy regression_run_sessions_visible on app.regression_run_sessions is
'Sessions of the runs of the projects the credential sees.';
