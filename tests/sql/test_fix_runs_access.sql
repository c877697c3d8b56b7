-- Who may start, finish and read fix runs: members and the service of the incident's workspace;
-- viewers read only, API keys read only (no execute grant to start), other workspaces see nothing.
-- The per-workspace concurrency limit is checked in the same transaction as the insert.
begin;
select plan(21);
select tests.seed();

select tests.authenticate_as_key('adk_test_a1');
select null::void from api.create_trace('{"id": "a-1"}');
select null::void from api.store_analysis('a-1', null, tests.analysis(
    tests.finding('timeout', 'search', 'TimeoutError', 'timed out after 30s')
), 'analyze');
reset role;
select tests.authenticate_as('bob');
select null::void from api.create_trace('{"id": "b-1", "project_id": "proj_b1"}');
select null::void from api.store_analysis('b-1', null, tests.analysis(
    tests.finding('timeout', 'search', 'TimeoutError', 'timed out after 12s')
), 'analyze');
reset role;
create temporary table ids as
select
    (select incident_id from app.incidents where workspace_id = 'ws_a') as a,
    (select incident_id from app.incidents where workspace_id = 'ws_b') as b;
grant select on ids to authenticated, agentdeck_key, service_role;
create temporary table runs (who text, fix_run_id text);
grant select, insert on runs to authenticated, agentdeck_key, service_role;

-- Refused before anything is written.
select tests.authenticate_as('bob');
select throws_ok($$ select api.start_fix_run((select a from ids), 'rules', 5, 60000) $$,
    'AD404', null, 'a member of B cannot reach an incident of A: 404');
reset role;
select tests.authenticate_as_service('ws_b');
select throws_ok($$ select api.start_fix_run((select a from ids), 'rules', 5, 60000) $$,
    'AD404', null, 'nor can the service acting for B');
reset role;
select tests.authenticate_as('vera');
select throws_ok($$ select api.start_fix_run((select a from ids), 'rules', 5, 60000) $$,
    'AD403', null, 'a viewer sees the incident but cannot start a run');
reset role;
select tests.authenticate_as_key('adk_test_a1');
select throws_ok($$ select api.start_fix_run((select a from ids), 'rules', 5, 60000) $$,
    '42501', null, 'an API key holds no execute grant to start a run');
reset role;
select is_empty($$ select * from app.fix_runs $$, 'no refused start wrote a row');

-- Allowed: a member and the service; the context carries the incident's session and finding.
select tests.authenticate_as('alice');
insert into runs select 'alice', api.start_fix_run((select a from ids), 'rules', 2, 60000) ->> 'fix_run_id';
select is(
    (api.start_fix_run((select a from ids), 'model', 2, 60000) -> 'sessions' -> 0 -> 'finding' ->> 'critical_seq'),
    '1', 'the context holds the session''s finding of this incident'
);
select throws_ok($$ select api.start_fix_run((select a from ids), 'rules', 2, 60000) $$,
    'AD429', null, 'a third run in flight is over the workspace''s limit of two');
select results_eq(
    $$ select r.actor_kind, r.actor_id, r.status from app.fix_runs r join runs using (fix_run_id) $$,
    $$ values ('user', tests.user_id('alice')::text, 'running') $$,
    'the run records who asked, and is running'
);
select lives_ok(
    $$ select api.finish_fix_run((select fix_run_id from runs where who = 'alice'),
        '{"plan": [{"step": "what_failed", "text": "x"}], "fallback": {"label": "no_model_configured", "reason": "r"}}')
    $$, 'the member finishes the run'
);
select throws_ok(
    $$ select api.finish_fix_run((select fix_run_id from runs where who = 'alice'), '{"plan": []}') $$,
    'AD409', null, 'a finished run cannot be finished again'
);
select throws_ok(
    $$ insert into app.fix_runs (workspace_id, fix_run_id, project_id, incident_id, runner, actor_kind, deadline_at)
       values ('ws_b', 'fix_forged', 'proj_b1', (select b from ids), 'rules', 'user', now()) $$,
    '42501', null, 'a member of A cannot insert a run into B'
);
reset role;
select tests.authenticate_as_service('ws_a');
insert into runs select 'service', api.start_fix_run((select a from ids), 'rules', 3, 60000) ->> 'fix_run_id';
select isnt_empty($$ select * from runs where who = 'service' and fix_run_id like 'fix_%' $$, 'the service of A may start one');
reset role;

-- Outcomes outside the closed fallback set are refused by the table.
select throws_ok(
    $$ update app.fix_runs set status = 'fallback', finished_at = now(), fallback = '{"label": "made_up"}'
       where fix_run_id <> (select fix_run_id from runs where who = 'alice') $$,
    '23514', null, 'a fallback label outside the documented set is refused'
);

-- The context: the session's first event, the cause, the failing step and the three before it, in seq order.
select tests.authenticate_as_key('adk_test_a1');
select null::void from api.create_trace('{"id": "a-ctx"}');
select null::void from api.append_events('a-ctx', null, (
    select jsonb_agg(jsonb_build_object('index', n - 1, 'seq', n, 'type', 'log', 'payload', '{}')) from generate_series(1, 12) as n
));
select null::void from api.store_analysis('a-ctx', null, tests.analysis(
    tests.finding('tool_error', 'fetch', 'HTTPError', 'boom', critical_seq => 9) || '{"cause_seq": 2}'
), 'analyze');
reset role;
select tests.authenticate_as_service('ws_a');
select is(
    (select jsonb_path_query_array(
        api.start_fix_run((select incident_id from app.incidents where label = 'tool_error'), 'rules', 9, 60000),
        '$.sessions[0].events[*].seq'
    )),
    '[1, 2, 6, 7, 8, 9]',
    'the runners read the first event, the cause, and the failing step with the three events before it'
);
reset role;

-- Reads: the viewer and the key of the project see A's runs, B sees none; nobody else writes them.
select tests.authenticate_as('vera');
select is(jsonb_array_length(api.list_fix_runs((select a from ids), '{}') -> 'fix_runs'), 3, 'a viewer lists them');
select throws_ok($$ update app.fix_runs set plan = '[]' $$, '42501', null, 'but holds no update grant');
reset role;
select tests.authenticate_as_key('adk_test_a1');
select is(jsonb_array_length(api.list_fix_runs((select a from ids), '{}') -> 'fix_runs'), 3, 'an API key of the project lists them');
select throws_ok($$ update app.fix_runs set plan = '[]' $$, '42501', null, 'and holds no update grant');
reset role;
select tests.authenticate_as('bob');
select throws_ok($$ select api.list_fix_runs((select a from ids), '{}') $$, 'AD404', null, 'B cannot list A''s runs');
select throws_ok(
    $$ select api.finish_fix_run((select fix_run_id from runs where who = 'service'),
        '{"plan": [], "fallback": {"label": "timeout", "reason": "r"}}') $$,
    'AD409', null, 'nor finish one of A''s running runs'
);
reset role;

-- A run past its deadline no longer counts as in flight (its process died).
update app.fix_runs set deadline_at = now() - interval '1 second' where status = 'running';
select tests.authenticate_as('alice');
select lives_ok($$ select api.start_fix_run((select a from ids), 'rules', 1, 60000) $$,
    'runs past their deadline free their slot');
reset role;

select * from finish();
rollback;
