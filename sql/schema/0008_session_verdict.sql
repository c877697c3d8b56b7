-- The session verdict of an analysis: the claimed outcome checked against the findings.

alter table app.analyses add column verdict text;
alter table app.analyses add constraint analyses_verdict_known
check (verdict in ('failed', 'succeeded_with_errors', 'succeeded', 'unknown'));
-- GET /api/sessions?verdict=…: the console's "claimed success but failed" view.
create index analyses_verdict_idx on app.analyses (workspace_id, project_id, verdict);
comment on column app.analyses.verdict is
'failed, succeeded_with_errors (claimed success, unrecovered findings), succeeded, unknown; null for results stored before verdicts.';
comment on index app.analyses_verdict_idx is 'Filters sessions by analysis verdict.';
