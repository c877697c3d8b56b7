-- The verdict filter reads app.session_facets since 0016; nothing reads analyses by verdict. The
-- index was worse than unused: before statistics exist, the planner took it for a lookup of one
-- session's analysis (workspace_id, project_id, trace_id), which it ties with the primary key,
-- and read every analysis of the project to find one (docs/decisions/0015).
drop index app.analyses_verdict_idx;
