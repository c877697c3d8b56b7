-- A regression run that checks a fix names a fix run of its own workspace (of its incident:
-- checked by api.create_regression_run, which answers 422 unknown_fix_run first).

alter table app.regression_runs
add constraint regression_runs_fix_run_fk foreign key (workspace_id, fix_run_id)
references app.fix_runs (workspace_id, fix_run_id) on delete cascade;

comment on column app.regression_runs.fix_run_id is
'The fix run (fix_…) of the same incident this run checks, if any.';
comment on constraint regression_runs_fix_run_fk on app.regression_runs is
'The fix run exists in the run''s workspace (and stays: fix runs are deleted only with their incident).';
