-- GET /api/sessions?incident_id= reads app.session_facets as the tag, label and verdict filters
-- do: one row per session and incident it shows (app.incident_sessions), newest first. Before,
-- the list read sessions newest first and probed each for the incident until a page filled:
-- every session of the workspace for an incident of a few old ones (docs/decisions/0015).
-- The facet is named for its filter, as the others are.

alter table app.session_facets drop constraint session_facets_facet_known;
alter table app.session_facets add constraint session_facets_facet_known
check (facet in ('tag', 'label', 'verdict', 'incident_id'));
comment on table app.session_facets is
'One row per session and tag, analysis label, verdict or incident: GET /api/sessions?tag=|label=|verdict=|incident_id= reads them newest first.';
comment on column app.session_facets.facet is
'The filter: tag (trace_sessions.tags), label (a label of its analysis), verdict, incident_id (app.incident_sessions).';
comment on column app.session_facets.value is 'The tag, the label, the verdict or the incident''s id.';

insert into app.session_facets (workspace_id, project_id, trace_id, facet, value, created_at)
select
    k.workspace_id,
    k.project_id,
    k.trace_id,
    'incident_id' as facet,
    k.incident_id as value,
    s.created_at
from app.incident_sessions as k
inner join app.trace_sessions as s
    on k.workspace_id = s.workspace_id and k.project_id = s.project_id and k.trace_id = s.trace_id;
