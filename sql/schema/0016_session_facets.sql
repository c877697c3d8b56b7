-- The session list's filters that are not columns of app.trace_sessions: a tag, an analysis label,
-- the verdict. One row per session and value, kept in the list's order (the session's created_at),
-- so each of these filters reads one index range newest first and joins the few sessions it
-- returns, instead of reading sessions until a page of matches fills (docs/decisions/0015).
-- Triggers on the rows they mirror keep them (sql/functions/facets.sql).

create table app.session_facets (
    workspace_id text not null,
    project_id text not null,
    trace_id text not null,
    facet text not null,
    value text not null,
    created_at timestamptz not null,
    constraint session_facets_pkey primary key (workspace_id, project_id, trace_id, facet, value),
    constraint session_facets_session_fk foreign key (workspace_id, project_id, trace_id)
    references app.trace_sessions (workspace_id, project_id, trace_id) on delete cascade,
    constraint session_facets_facet_known check (facet in ('tag', 'label', 'verdict'))
);
create index session_facets_list_idx on app.session_facets (
    workspace_id, facet, value, created_at desc, project_id desc, trace_id desc
);
comment on table app.session_facets is
'One row per session and tag, analysis label or verdict: GET /api/sessions?tag=|label=|verdict= reads them newest first.';
comment on column app.session_facets.workspace_id is 'The session''s workspace.';
comment on column app.session_facets.project_id is 'The session''s project.';
comment on column app.session_facets.trace_id is 'The session.';
comment on column app.session_facets.facet is 'tag (trace_sessions.tags), label (a label of its analysis) or verdict.';
comment on column app.session_facets.value is 'The tag, the label or the verdict.';
comment on column app.session_facets.created_at is 'The session''s created_at: the list''s order.';
comment on index app.session_facets_list_idx is 'A filter''s sessions newest first, in the list''s order.';

insert into app.session_facets (workspace_id, project_id, trace_id, facet, value, created_at)
select distinct
    s.workspace_id,
    s.project_id,
    s.trace_id,
    'tag' as facet,
    t.tag as value,
    s.created_at
from app.trace_sessions as s
cross join lateral unnest(s.tags) as t (tag);
insert into app.session_facets (workspace_id, project_id, trace_id, facet, value, created_at)
select distinct
    a.workspace_id,
    a.project_id,
    a.trace_id,
    'label' as facet,
    l.value ->> 'label' as value,
    s.created_at
from app.analyses as a
inner join app.trace_sessions as s
    on a.workspace_id = s.workspace_id and a.project_id = s.project_id and a.trace_id = s.trace_id
cross join lateral jsonb_array_elements(a.labels) as l (value)
where l.value ->> 'label' is not null;
insert into app.session_facets (workspace_id, project_id, trace_id, facet, value, created_at)
select
    a.workspace_id,
    a.project_id,
    a.trace_id,
    'verdict' as facet,
    a.verdict as value,
    s.created_at
from app.analyses as a
inner join app.trace_sessions as s
    on a.workspace_id = s.workspace_id and a.project_id = s.project_id and a.trace_id = s.trace_id
where a.verdict is not null;

-- A project belongs to one workspace: the two columns are not independent. Without these
-- statistics the planner multiplies their selectivities, takes a big tenant's project for a few
-- rows, and for a generic plan of "the session (workspace_id, project_id, trace_id)" (a foreign
-- key check, a writer's update) may read that whole project through its newest-first index.
create statistics app.trace_sessions_tenant (ndistinct, dependencies) on workspace_id, project_id
from app.trace_sessions;
comment on statistics app.trace_sessions_tenant is
'workspace_id determines project_id''s range: keeps lookups of one session off a project''s range index.';
analyze app.trace_sessions;
