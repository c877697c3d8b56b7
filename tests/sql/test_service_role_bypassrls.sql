-- Supabase's service_role has BYPASSRLS. Given it here (inside this transaction only), the service
-- naming A still sees and changes only A through every api function: their explicit workspace
-- checks hold on their own, without RLS. A and B hold rows with the same ids, so a missing check shows.
begin;
select plan(37);
select tests.seed();

create function pg_temp.populate(ws text, proj text) returns void
language plpgsql
as $$
begin
    perform tests.authenticate_as_service(ws);
    perform api.create_trace(jsonb_build_object('id', 'same', 'project_id', proj));
    perform api.append_events('same', proj, jsonb_build_array(
        jsonb_build_object('index', 0, 'seq', 1, 'type', 'log', 'payload', jsonb_build_object('ws', ws)),
        jsonb_build_object('index', 1, 'seq', 2, 'type', 'session.end', 'payload', '{"outcome": "failure"}'::jsonb)
    ));
    perform api.store_analysis('same', proj, tests.analysis(tests.finding('timeout', 't', 'Timeout', 'slow')), 'service');
    perform api.record_artifact('same', proj, jsonb_build_object(
        'artifact_id', 'art_same', 'kind', 'log', 'content_type', 'text/plain', 'size_bytes', 1,
        'sha256', repeat('0', 64), 'storage_backend', 'local', 'storage_path', ws || '/' || proj || '/same/x'
    ));
    reset role;
end
$$;
select pg_temp.populate('ws_a', 'proj_a1');
select pg_temp.populate('ws_b', 'proj_b1');
create temporary table b_incident as select incident_id from app.incidents where workspace_id = 'ws_b';
grant select on b_incident to service_role;
select tests.authenticate_as_service('ws_b');
create temporary table b_fix_run as
select api.start_fix_run((select incident_id from b_incident), 'rules', 5, 60000) ->> 'fix_run_id' as fix_run_id;
create temporary table b_run as
select api.create_regression_run((select incident_id from b_incident), '{}', 'v1', 3600) ->> 'id' as run_id;
reset role;
grant select on b_fix_run, b_run to service_role;

alter role service_role bypassrls;
select tests.authenticate_as_service('ws_a');
select ok((select count(distinct workspace_id) = 2 from app.trace_sessions),
    'service_role really bypasses RLS here: the table shows it both workspaces');

-- Reads.
select results_eq(
    $$ select distinct s ->> 'workspace_id' from jsonb_array_elements(api.list_sessions('{"limit": 100}') -> 'sessions') as s $$,
    $$ values ('ws_a') $$, 'list_sessions: A only');
select is(jsonb_array_length(api.list_sessions('{"limit": 100, "session_id": "same"}') -> 'sessions'), 1,
    'list_sessions by a session id both workspaces use: one session');
select is(api.list_sessions('{"limit": 100, "project_id": "proj_a1"}') -> 'sessions' -> 0 ->> 'project_id', 'proj_a1',
    'list_sessions filtered to A''s project');
select throws_ok($$ select api.list_sessions('{"limit": 100, "workspace_id": "ws_b"}') $$, 'AD403', null,
    'list_sessions naming B: 403');
select results_eq(
    $$ select distinct e -> 'payload' ->> 'ws' from jsonb_array_elements(api.list_events('same', null, null, 100, null) -> 'events') as e
       where e ->> 'type' = 'log' $$,
    $$ values ('ws_a') $$, 'list_events of the shared id: A''s events only');
select throws_ok($$ select api.list_events('same', 'proj_b1', null, 100, null) $$, 'AD404', null,
    'list_events of B''s project: 404');
select is(api.get_analysis('same', null) ->> 'project_id', 'proj_a1', 'get_analysis: A''s');
select throws_ok($$ select api.get_analysis('same', 'proj_b1') $$, 'AD404', null, 'get_analysis of B''s: 404');
select is(api.get_artifact('art_same') ->> 'storage_path', 'ws_a/proj_a1/same/x', 'get_artifact of the shared id: A''s');
select results_eq(
    $$ select distinct i ->> 'workspace_id' from jsonb_array_elements(api.list_incidents('{"limit": 100}') -> 'incidents') as i $$,
    $$ values ('ws_a') $$, 'list_incidents: A only');
select throws_ok($$ select api.list_incidents('{"limit": 100, "project_id": "proj_b1"}') $$, 'AD403', null,
    'list_incidents naming B''s project: 403');
select is(api.stream_authorize(null, null) ->> 'workspace_id', 'ws_a', 'stream_authorize: A');
select results_eq(
    $$ select distinct data ->> 'workspace_id' from api.stream_backfill('ws_a', null, null, 0, 1000) $$,
    $$ values ('ws_a') $$, 'stream_backfill: A only');
select throws_ok($$ select * from api.stream_backfill('ws_b', null, null, 0, 1000) $$, 'AD403', null,
    'stream_backfill of B: 403');

-- Writes.
select throws_ok($$ select api.create_trace('{"id": "new", "project_id": "proj_b1"}') $$, 'AD403', null,
    'create_trace in B: 403');
select throws_ok($$ select api.append_events('same', 'proj_b1', '[{"index": 0, "seq": 9, "type": "log"}]') $$,
    'AD404', null, 'append_events to B''s session: 404');
select throws_ok(
    $$ select api.store_analysis('same', 'proj_b1', tests.analysis(tests.finding('loop', 't', 'L', 'x')), 'service') $$,
    'AD404', null, 'store_analysis of B''s session: 404');
select throws_ok($$ select api.artifact_session('same', 'proj_b1') $$, 'AD404', null, 'artifact_session in B: 404');
select throws_ok(
    $$ select api.record_artifact('same', 'proj_b1', '{"artifact_id": "art_x", "kind": "log", "content_type": "text/plain",
       "size_bytes": 1, "sha256": "00", "storage_backend": "local", "storage_path": "ws_b/proj_b1/x"}') $$,
    'AD404', null, 'record_artifact in B: 404');
select throws_ok($$ select api.update_incident((select incident_id from b_incident), '{"status": "ignored"}') $$,
    'AD404', null, 'update_incident of B''s incident: 404');
select throws_ok($$ select api.start_fix_run((select incident_id from b_incident), 'rules', 5, 60000) $$,
    'AD404', null, 'start_fix_run on B''s incident: 404');
select throws_ok($$ select api.list_fix_runs((select incident_id from b_incident), '{}') $$,
    'AD404', null, 'list_fix_runs of B''s incident: 404');
select throws_ok($$ select api.finish_fix_run((select fix_run_id from b_fix_run), '{"plan": []}') $$,
    'AD409', null, 'finish_fix_run of B''s running run: not A''s to finish');
select throws_ok($$ select api.create_regression_run((select incident_id from b_incident), '{}', 'v1', 3600) $$,
    'AD404', null, 'create_regression_run on B''s incident: 404');
select throws_ok($$ select api.list_regression_runs((select incident_id from b_incident), '{}') $$,
    'AD404', null, 'list_regression_runs of B''s incident: 404');
select throws_ok($$ select api.get_regression_run((select run_id from b_run)) $$,
    'AD404', null, 'get_regression_run of B''s run: 404');
select throws_ok($$ select api.settle_regression_run('ws_b', (select run_id from b_run)) $$,
    '42501', null, 'settle_regression_run in B: refused');
select throws_ok($$ select api.console_identity() $$, '42501', null,
    'console_identity: console users only (it reads their own memberships)');
select throws_ok($$ select api.ingest_otlp('[]') $$, '42501', null,
    'ingest_otlp: project API keys only (a key reaches its own project; service_role never gets it)');
select is(api.artifact_session('same', null) ->> 'workspace_id', 'ws_a', 'artifact_session of the shared id: A''s');
select lives_ok($$ select api.create_trace('{"id": "new", "project_id": "proj_a1"}') $$, 'writes to A still work');
reset role;
select results_eq(
    $$ select workspace_id, count(*)::int from app.trace_sessions group by 1 order by 1 $$,
    $$ values ('ws_a', 2), ('ws_b', 1) $$,
    'B is untouched and A gained the one session'
);
select is((select count(*)::int from app.events where workspace_id = 'ws_b'), 2, 'B''s events are untouched');
select is((select status from app.incidents where workspace_id = 'ws_b'), 'open', 'B''s incident is untouched');
select is((select status from app.fix_runs where workspace_id = 'ws_b'), 'running', 'B''s fix run is untouched');

-- Every api function is exercised above: a new one must be added here.
select is_empty(
    $$ select p.proname::text from pg_proc as p inner join pg_namespace as n on p.pronamespace = n.oid
       where n.nspname = 'api'
       except
       select unnest(array['list_sessions', 'list_events', 'get_analysis', 'get_artifact', 'list_incidents',
           'stream_authorize', 'stream_backfill', 'create_trace', 'append_events', 'store_analysis', 'artifact_session',
           'record_artifact', 'update_incident', 'start_fix_run', 'finish_fix_run', 'list_fix_runs', 'create_regression_run', 'list_regression_runs',
           'get_regression_run', 'settle_regression_run', 'ingest_otlp', 'console_identity']) $$,
    'every api function is covered by this file'
);

select * from finish();
rollback;
