-- app.session_facets mirrors what the session list filters on (sql/schema/0016, 0017): a session's
-- tags from its creation, its analysis' labels and verdict from every store, and the incidents it
-- shows from every clustering, replaced, never stale.
begin;
select plan(7);
select tests.seed();

select tests.authenticate_as_key('adk_test_a1');
select null::void from api.create_trace('{"id": "f-1", "tags": ["nightly", "gpu", "nightly"]}'::jsonb);
select null::void from api.store_analysis('f-1', null, jsonb_set(tests.analysis(
    tests.finding('timeout', 'search', 'TimeoutError', 'timed out after 30s'),
    tests.finding('not_found', 'fetch', 'HTTPError', '404')
), '{verdict}', '"failed"'), 'analyze');
reset role;

create function pg_temp.facets() returns setof text
language sql
as $$
    -- An incident row is shown by the incident's label (its id is generated).
    select f.facet || '=' || coalesce(i.label, f.value)
    from app.session_facets as f
    left join app.incidents as i
        on f.facet = 'incident_id' and i.workspace_id = f.workspace_id and i.incident_id = f.value
    where f.trace_id = 'f-1'
    order by 1
$$;
select results_eq(
    'select * from pg_temp.facets()',
    array['incident_id=timeout', 'label=not_found', 'label=timeout', 'tag=gpu',
        'tag=nightly', 'verdict=failed'],
    'a created and analysed session has one row per tag, label, incident and its verdict'
);
select is(
    (select count(*) from app.session_facets as f
     inner join app.trace_sessions as s using (workspace_id, project_id, trace_id)
     where f.trace_id = 'f-1' and f.created_at = s.created_at),
    6::bigint,
    'each row carries the session''s created_at, the list''s order'
);

select tests.authenticate_as_key('adk_test_a1');
select null::void from api.store_analysis('f-1', null, jsonb_set(tests.analysis(
    tests.finding('loop', 'search', 'Loop', 'same call 5 times')
), '{verdict}', '"succeeded_with_errors"'), 'analyze');
reset role;
select results_eq(
    'select * from pg_temp.facets()',
    array['incident_id=loop', 'label=loop', 'tag=gpu', 'tag=nightly', 'verdict=succeeded_with_errors'],
    'a new analysis replaces the labels, the incidents and the verdict'
);

update app.trace_sessions set tags = '{weekly}' where trace_id = 'f-1';
select results_eq(
    'select * from pg_temp.facets()',
    array['incident_id=loop', 'label=loop', 'tag=weekly', 'verdict=succeeded_with_errors'],
    'changed tags (an admin''s update) replace the tag rows'
);

-- A second session in the same incident; the incident's deletion (an admin's) takes both rows.
select tests.authenticate_as_key('adk_test_a1');
select null::void from api.create_trace('{"id": "f-2"}'::jsonb);
select null::void from api.store_analysis('f-2', null, tests.analysis(
    tests.finding('loop', 'search', 'Loop', 'same call 5 times')
), 'analyze');
reset role;
select is(
    (select count(*) from app.session_facets as f where f.facet = 'incident_id' and f.trace_id in ('f-1', 'f-2')),
    2::bigint,
    'each session linked to the incident has its row'
);
delete from app.incidents where label = 'loop' and workspace_id = (
    select workspace_id from app.trace_sessions where trace_id = 'f-1'
);
select is_empty(
    $$select from app.session_facets where facet = 'incident_id' and trace_id in ('f-1', 'f-2')$$,
    'a deleted incident''s rows go with its links'
);

delete from app.trace_sessions where trace_id = 'f-1';
select is_empty('select * from pg_temp.facets()', 'they go with their session');

select * from finish();
rollback;
