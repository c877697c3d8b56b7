-- Who stores an analysis: writers do; a viewer's api.store_analysis answers the result unstored,
-- and the analyses policy refuses a viewer's direct write (docs/detectors.md).
begin;
select plan(6);
select tests.seed();

select tests.authenticate_as_key('adk_test_a1');
select null::void from api.create_trace('{"id": "w-1"}'::jsonb);
select is(
    (api.store_analysis('w-1', null, tests.analysis(
        tests.finding('timeout', 'search', 'TimeoutError', 'timed out after 30s')
    ), 'analyze')) ->> 'stored',
    'true',
    'an API key of the project stores its analysis'
);
reset role;
create temporary table stored_before as select * from app.analyses;
create temporary table incidents_before as select * from app.incidents;

select tests.authenticate_as('vera');
create temporary table viewer_result as
select api.store_analysis('w-1', null, tests.analysis(
    tests.finding('not_found', 'fetch_page', 'HTTPError', '404 Not Found: /docs/7')
), 'analyze') as r;
select is(
    (select (r ->> 'stored', r ->> 'session_id', r -> 'labels' -> 0 ->> 'label') from viewer_result),
    ('false'::text, 'w-1'::text, 'not_found'::text),
    'a viewer gets the computed result back, marked unstored'
);
select throws_ok(
    $$ update app.analyses set labels = '[]' $$,
    '42501', null,
    'a viewer cannot rewrite a stored analysis directly'
);
reset role;

select results_eq(
    $$ select labels, analyzed_at, source from app.analyses $$,
    $$ select labels, analyzed_at, source from stored_before $$,
    'the stored analysis is untouched'
);
select results_eq(
    $$ select fingerprint, status, session_count, updated_at from app.incidents $$,
    $$ select fingerprint, status, session_count, updated_at from incidents_before $$,
    'no incident changed'
);

select tests.authenticate_as('alice');
select is(
    (api.store_analysis('w-1', null, tests.analysis(
        tests.finding('not_found', 'fetch_page', 'HTTPError', '404 Not Found: /docs/7')
    ), 'analyze')) ->> 'stored',
    'true',
    'a member stores it'
);
reset role;

select * from finish();
rollback;
