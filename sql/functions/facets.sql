-- app.session_facets follows the rows it mirrors: a session's tags, its analysis' labels and verdict,
-- the incidents it shows.

create or replace function internal.facets_of_new_sessions() returns trigger
language plpgsql volatile
set search_path = ''
as $$
begin
    -- Once per statement: bulk loads of sessions add their tags in one insert.
    insert into app.session_facets (workspace_id, project_id, trace_id, facet, value, created_at)
    select distinct s.workspace_id, s.project_id, s.trace_id, 'tag', t.tag, s.created_at
    from inserted_sessions as s
    cross join lateral unnest(s.tags) as t (tag);
    return null;
end
$$;
comment on function internal.facets_of_new_sessions() is 'Adds the tag rows of app.session_facets for new sessions.';
drop trigger if exists trace_sessions_facets_insert on app.trace_sessions;
create trigger trace_sessions_facets_insert after insert on app.trace_sessions
referencing new table as inserted_sessions
for each statement execute function internal.facets_of_new_sessions();
comment on trigger trace_sessions_facets_insert on app.trace_sessions is 'New sessions'' tags, for the tag filter.';

create or replace function internal.facets_of_session() returns trigger
language plpgsql volatile
set search_path = ''
as $$
begin
    delete from app.session_facets as f
    where
        f.workspace_id = new.workspace_id and f.project_id = new.project_id and f.trace_id = new.trace_id
        and f.facet = 'tag';
    insert into app.session_facets (workspace_id, project_id, trace_id, facet, value, created_at)
    select distinct new.workspace_id, new.project_id, new.trace_id, 'tag', t.tag, new.created_at
    from unnest(new.tags) as t (tag);
    return null;
end
$$;
comment on function internal.facets_of_session() is 'Replaces a session''s tag rows of app.session_facets when its tags change.';
drop trigger if exists trace_sessions_facets_update on app.trace_sessions;
create trigger trace_sessions_facets_update after update of tags on app.trace_sessions
for each row execute function internal.facets_of_session();
comment on trigger trace_sessions_facets_update on app.trace_sessions is 'Changed tags, for the tag filter.';

create or replace function internal.analysis_facets(labels jsonb, verdict text)
returns table (facet text, value text)
language sql immutable
as $$
    select 'label' as facet, l.value ->> 'label' as value
    from jsonb_array_elements(analysis_facets.labels) as l (value)
    where l.value ->> 'label' is not null
    union all
    select 'verdict' as facet, analysis_facets.verdict as value
    where analysis_facets.verdict is not null
$$;
comment on function internal.analysis_facets(jsonb, text) is 'The facet rows an analysis gives its session: its labels and its verdict.';

create or replace function internal.facets_of_new_analyses() returns trigger
language plpgsql volatile
set search_path = ''
as $$
begin
    -- Once per statement, like new sessions' tags: a bulk load adds its rows in one insert.
    insert into app.session_facets (workspace_id, project_id, trace_id, facet, value, created_at)
    select distinct s.workspace_id, s.project_id, s.trace_id, v.facet, v.value, s.created_at
    from inserted_analyses as a
    inner join app.trace_sessions as s
        on a.workspace_id = s.workspace_id and a.project_id = s.project_id and a.trace_id = s.trace_id
    cross join lateral internal.analysis_facets(a.labels, a.verdict) as v
    on conflict on constraint session_facets_pkey do nothing;
    return null;
end
$$;
comment on function internal.facets_of_new_analyses() is 'Adds the label and verdict rows of app.session_facets for new analyses.';
drop trigger if exists analyses_facets_insert on app.analyses;
create trigger analyses_facets_insert after insert on app.analyses
referencing new table as inserted_analyses
for each statement execute function internal.facets_of_new_analyses();
comment on trigger analyses_facets_insert on app.analyses is 'New analyses'' labels and verdicts, for those filters.';

create or replace function internal.facets_of_analysis() returns trigger
language plpgsql volatile
set search_path = ''
as $$
begin
    -- A changed or deleted analysis: its session's label and verdict rows are replaced, or go.
    delete from app.session_facets as f
    where
        f.workspace_id = old.workspace_id and f.project_id = old.project_id and f.trace_id = old.trace_id
        and f.facet in ('label', 'verdict');
    if tg_op = 'UPDATE' then
        insert into app.session_facets (workspace_id, project_id, trace_id, facet, value, created_at)
        select distinct s.workspace_id, s.project_id, s.trace_id, v.facet, v.value, s.created_at
        from app.trace_sessions as s
        cross join lateral internal.analysis_facets(new.labels, new.verdict) as v
        where s.workspace_id = new.workspace_id and s.project_id = new.project_id and s.trace_id = new.trace_id;
    end if;
    return null;
end
$$;
comment on function internal.facets_of_analysis() is 'Replaces or removes a session''s label and verdict rows of app.session_facets.';
drop trigger if exists analyses_facets on app.analyses;
create trigger analyses_facets after update of labels, verdict or delete on app.analyses
for each row execute function internal.facets_of_analysis();
comment on trigger analyses_facets on app.analyses is 'Changed or removed analyses, for the label and verdict filters.';

create or replace function internal.facets_of_new_incident_links() returns trigger
language plpgsql volatile
set search_path = ''
as $$
begin
    -- Once per statement. A link re-clustered in place (on conflict do update) keeps its row.
    insert into app.session_facets (workspace_id, project_id, trace_id, facet, value, created_at)
    select k.workspace_id, k.project_id, k.trace_id, 'incident_id', k.incident_id, s.created_at
    from inserted_links as k
    inner join app.trace_sessions as s
        on k.workspace_id = s.workspace_id and k.project_id = s.project_id and k.trace_id = s.trace_id
    on conflict on constraint session_facets_pkey do nothing;
    return null;
end
$$;
comment on function internal.facets_of_new_incident_links() is
'Adds the incident_id rows of app.session_facets for sessions newly linked to an incident.';
drop trigger if exists incident_sessions_facets_insert on app.incident_sessions;
create trigger incident_sessions_facets_insert after insert on app.incident_sessions
referencing new table as inserted_links
for each statement execute function internal.facets_of_new_incident_links();
comment on trigger incident_sessions_facets_insert on app.incident_sessions is
'New links of sessions to incidents, for the incident_id filter.';

create or replace function internal.facets_of_removed_incident_links() returns trigger
language plpgsql volatile
set search_path = ''
as $$
begin
    -- Once per statement, cascades from a deleted incident included.
    delete from app.session_facets as f
    using removed_links as k
    where
        f.workspace_id = k.workspace_id and f.project_id = k.project_id and f.trace_id = k.trace_id
        and f.facet = 'incident_id' and f.value = k.incident_id;
    return null;
end
$$;
comment on function internal.facets_of_removed_incident_links() is
'Removes the incident_id rows of app.session_facets for links that go.';
drop trigger if exists incident_sessions_facets_delete on app.incident_sessions;
create trigger incident_sessions_facets_delete after delete on app.incident_sessions
referencing old table as removed_links
for each statement execute function internal.facets_of_removed_incident_links();
comment on trigger incident_sessions_facets_delete on app.incident_sessions is
'Links of sessions to incidents that go (re-analysis, deleted incidents), for the incident_id filter.';

revoke all on function internal.analysis_facets(jsonb, text), internal.facets_of_new_sessions(),
internal.facets_of_session(), internal.facets_of_new_analyses(), internal.facets_of_analysis(),
internal.facets_of_new_incident_links(), internal.facets_of_removed_incident_links() from public;
