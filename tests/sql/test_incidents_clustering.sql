-- Clustering when an analysis is stored: upsert per fingerprint, links replaced on re-analysis
-- (nothing counted twice), counts derived from links, reopen on recurrence, ignored stays ignored.
-- The concurrent half of the upsert contract is proven in tests/api/test_incidents_concurrency.py.
begin;
select plan(26);
select tests.seed();

-- A key analyses three sessions failing the same way with different paths and numbers.
select tests.authenticate_as_key('adk_test_a1');
select null::void
from generate_series(1, 3) as n, lateral api.create_trace(format('{"id": "c-%s"}', n)::jsonb);
select null::void
from generate_series(1, 3) as n, lateral api.store_analysis(
    'c-' || n, null,
    tests.analysis(tests.finding('not_found', 'fetch_page', 'HTTPError', format('404 Not Found: /docs/%s', n * 7))),
    'analyze'
);
reset role;

select col_is_unique('app', 'incidents', array['workspace_id', 'project_id', 'fingerprint'],
    'one incident per fingerprint and project: concurrent first occurrences meet on this key');
select results_eq(
    $$ select status, label, title, session_count, occurrence_count::integer from app.incidents $$,
    $$ values ('open'::text, 'not_found'::text, 'not_found in fetch_page: <n> Not Found: <path>'::text, 3, 3) $$,
    'three sessions, one open incident titled from label, tool and normalised message'
);
select results_eq(
    $$ select trace_id from app.incident_sessions order by trace_id $$, $$ values ('c-1'), ('c-2'), ('c-3') $$,
    'each session is linked once'
);
select is(
    (select count(*)::integer from app.stream_messages where kind = 'incident.updated'), 3,
    'each change streamed incident.updated'
);
create temporary table after_first as select * from app.incidents;

-- Re-analysis with the same result changes nothing, and streams nothing.
select tests.authenticate_as_key('adk_test_a1');
select null::void from api.store_analysis('c-1', null, tests.analysis(
    tests.finding('not_found', 'fetch_page', 'HTTPError', '404 Not Found: /docs/7')
), 'analyze');
reset role;
select results_eq(
    $$ select session_count, occurrence_count, first_seen, last_seen, updated_at from app.incidents $$,
    $$ select session_count, occurrence_count, first_seen, last_seen, updated_at from after_first $$,
    're-analysing a session counts nothing twice'
);
select is(
    (select count(*)::integer from app.stream_messages where kind = 'incident.updated'), 3,
    'an unchanged incident is not streamed again'
);

-- Re-analysis that changes the finding replaces the link.
select tests.authenticate_as_key('adk_test_a1');
select null::void from api.store_analysis('c-2', null, tests.analysis(
    tests.finding('not_found', 'fetch_page', 'HTTPError', '404 Not Found: /docs/99', 0.95, 4, 3)
), 'analyze');
select null::void from api.store_analysis('c-3', null, tests.analysis(
    tests.finding('timeout', 'search', 'TimeoutError', 'timed out after 30s')
), 'analyze');
reset role;
select results_eq(
    $$ select label, session_count, occurrence_count::integer from app.incidents order by label $$,
    $$ values ('not_found'::text, 2, 4), ('timeout', 1, 1) $$,
    'occurrences follow the finding; a session whose failure changed moves to the other incident'
);
select is(
    (select critical_seq from app.incident_sessions where trace_id = 'c-2'), 4::bigint,
    'the link carries the finding''s critical seq'
);
select tests.authenticate_as_key('adk_test_a1');
select null::void from api.store_analysis('c-3', null, tests.analysis(variadic array[]::jsonb[]), 'analyze');
reset role;
select results_eq(
    $$ select session_count, occurrence_count::integer from app.incidents where label = 'timeout' $$,
    $$ values (0, 0) $$,
    'an incident whose last session no longer shows it stays, with nothing counted'
);

-- Weak findings open nothing; the same failure in another project is another incident.
select tests.authenticate_as('alice');
select null::void from api.create_trace('{"id": "c-weak", "project_id": "proj_a1"}');
select null::void from api.store_analysis('c-weak', 'proj_a1', tests.analysis(
    tests.finding('stalled', null, null, 'page unchanged', 0.6)
), 'analyze');
select null::void from api.create_trace('{"id": "c-other", "project_id": "proj_a2"}');
select null::void from api.store_analysis('c-other', 'proj_a2', tests.analysis(
    tests.finding('not_found', 'fetch_page', 'HTTPError', '404 Not Found: /docs/1')
), 'analyze');
reset role;
select is_empty($$ select from app.incidents where label = 'stalled' $$, 'findings below the threshold open nothing');
select results_eq(
    $$ select project_id, session_count from app.incidents where label = 'not_found' order by project_id $$,
    $$ values ('proj_a1'::text, 2), ('proj_a2', 1) $$,
    'incidents are per project'
);

-- Counts are what the links say.
select is_empty(
    $$ select i.incident_id from app.incidents as i
       left join lateral (
           select count(*) as n, sum(k.occurrences) as o, min(k.seen_at) as f, max(k.seen_at) as l
           from app.incident_sessions as k where (k.workspace_id, k.incident_id) = (i.workspace_id, i.incident_id)
       ) as links on true
       where (i.session_count, i.occurrence_count) <> (links.n, coalesce(links.o, 0))
          or (links.n > 0 and (i.first_seen, i.last_seen) <> (links.f, links.l)) $$,
    'session_count, occurrence_count, first_seen and last_seen agree with the links'
);

-- Reopen on recurrence. A session created before the resolution is not a recurrence.
select tests.authenticate_as_key('adk_test_a1');
select null::void from api.create_trace('{"id": "c-before"}');
reset role;
select tests.authenticate_as('alice');
select set_config('request.id', 'req_resolve', true);
select is(
    api.update_incident(
        (select incident_id from app.incidents where project_id = 'proj_a1' and label = 'not_found'),
        '{"status": "resolved"}'
    ) ->> 'status',
    'resolved', 'a member resolves the incident'
);
reset role;
select tests.authenticate_as_key('adk_test_a1');
select null::void from api.store_analysis('c-1', null, tests.analysis(
    tests.finding('not_found', 'fetch_page', 'HTTPError', '404 Not Found: /docs/7')
), 'analyze');
select null::void from api.store_analysis('c-before', null, tests.analysis(
    tests.finding('not_found', 'fetch_page', 'HTTPError', '404 Not Found: /docs/5')
), 'analyze');
reset role;
select results_eq(
    $$ select status, regressed, session_count from app.incidents where project_id = 'proj_a1' and label = 'not_found' $$,
    $$ values ('resolved'::text, false, 3) $$,
    'neither a re-analysis nor a session older than the resolution reopens it (but it counts)'
);
select tests.authenticate_as_key('adk_test_a1');
select null::void from api.create_trace('{"id": "c-again"}');
select null::void from api.store_analysis('c-again', null, tests.analysis(
    tests.finding('not_found', 'fetch_page', 'HTTPError', '404 Not Found: /docs/1234')
), 'analyze');
reset role;
select results_eq(
    $$ select status, regressed, resolved_at is null, session_count from app.incidents
       where project_id = 'proj_a1' and label = 'not_found' $$,
    $$ values ('open'::text, true, true, 4) $$,
    'a new occurrence reopens a resolved incident and marks it regressed'
);
select results_eq(
    $$ select actor_kind, actor_id, action, before ->> 'status', after ->> 'status', (after ->> 'regressed')::boolean
       from app.audit_log where action = 'incident.regressed' $$,
    $$ values ('key'::text, 'key_a1'::text, 'incident.regressed'::text, 'resolved'::text, 'open'::text, true) $$,
    'the reopening is audit-logged with the credential that stored the analysis'
);
select is(
    (select payload ->> 'status' from app.stream_messages where kind = 'incident.updated' order by position desc limit 1),
    'open', 'and streamed as incident.updated'
);
select is(
    (select payload -> 'sample_session_ids' ->> 0 from app.stream_messages
     where kind = 'incident.updated' order by position desc limit 1),
    'c-again', 'the message carries the incident, latest session first'
);

-- Acknowledged and ignored incidents keep their status while counting.
select tests.authenticate_as('alice');
select null::void from api.update_incident(
    (select incident_id from app.incidents where project_id = 'proj_a1' and label = 'not_found'),
    '{"status": "acknowledged"}'
);
select tests.authenticate_as_key('adk_test_a1');
select null::void from api.create_trace('{"id": "c-ack"}');
select null::void from api.store_analysis('c-ack', null, tests.analysis(
    tests.finding('not_found', 'fetch_page', 'HTTPError', '404 Not Found: /x')
), 'analyze');
reset role;
select results_eq(
    $$ select status, regressed, session_count from app.incidents where project_id = 'proj_a1' and label = 'not_found' $$,
    $$ values ('acknowledged'::text, true, 5) $$,
    'an acknowledged regression stays acknowledged and still marked regressed'
);
select tests.authenticate_as('alice');
select null::void from api.update_incident(
    (select incident_id from app.incidents where project_id = 'proj_a1' and label = 'not_found'),
    '{"status": "ignored"}'
);
select tests.authenticate_as_key('adk_test_a1');
select null::void from api.create_trace('{"id": "c-ignored"}');
select null::void from api.store_analysis('c-ignored', null, tests.analysis(
    tests.finding('not_found', 'fetch_page', 'HTTPError', '404 Not Found: /y')
), 'analyze');
reset role;
select results_eq(
    $$ select status, session_count from app.incidents where project_id = 'proj_a1' and label = 'not_found' $$,
    $$ values ('ignored'::text, 6) $$,
    'an ignored incident stays ignored while counting'
);

-- Resolving again clears the regression flag.
select tests.authenticate_as('alice');
select results_eq(
    $$ select status, (regressed)::boolean, resolved_at is not null from jsonb_to_record(api.update_incident(
           (select incident_id from app.incidents where project_id = 'proj_a1' and label = 'not_found'),
           '{"status": "resolved"}'
       )) as r (status text, regressed boolean, resolved_at timestamptz) $$,
    $$ values ('resolved'::text, false, true) $$,
    'resolving again starts afresh: not regressed, resolved_at set'
);
reset role;

-- Sessions by incident (GET /api/sessions?incident_id=…).
select tests.authenticate_as_key('adk_test_a1');
select is_empty(
    $$ select jsonb_array_elements(api.list_sessions(jsonb_build_object(
           'limit', 50, 'incident_id', (select incident_id from app.incidents where label = 'timeout')
       )) -> 'sessions') $$,
    'the timeout incident has no session left'
);
select set_eq(
    $$ select jsonb_array_elements(api.list_sessions(jsonb_build_object(
           'limit', 50,
           'incident_id', (select incident_id from app.incidents where project_id = 'proj_a1' and label = 'not_found')
       )) -> 'sessions') ->> 'id' $$,
    $$ values ('c-1'), ('c-2'), ('c-before'), ('c-again'), ('c-ack'), ('c-ignored') $$,
    'list_sessions filters by incident'
);
reset role;

-- The lock helper finds the existing row instead of making a second one.
select is(
    (internal.lock_incident('ws_a', 'proj_a1', (select fingerprint from app.incidents where label = 'timeout'),
        'timeout', 'search', 'TimeoutError', 'timed out after <n>s', now())).incident_id,
    (select incident_id from app.incidents where label = 'timeout'),
    'lock_incident returns the existing incident of a fingerprint'
);
select is((select count(*)::integer from app.incidents where label = 'timeout'), 1, 'and creates no duplicate');

-- Clustering is only for projects the caller sees.
select tests.authenticate_as('bob');
select throws_ok($$ select internal.cluster_analysis('ws_a', 'proj_a1', 'c-1') $$, '42501', null,
    'another workspace cannot cluster (or probe) sessions of A');
reset role;

select * from finish();
rollback;
