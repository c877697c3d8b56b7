-- Regression runs in SQL: verdicts from stored analyses (recovered findings and findings below the
-- clustering threshold are not failures), the exact sign test against hand-computed p-values,
-- who may start, join, read and settle runs, and the wake-up an analysis gives its runs.
begin;
select plan(28);
select tests.seed();

-- An incident of A from two failing sessions with task keys, analysed with detector version 'test'.
create function pg_temp.ended(trace_id text, metadata jsonb) returns void
language plpgsql
as $$
begin
    perform api.create_trace(jsonb_build_object('id', trace_id, 'metadata', metadata));
    perform api.append_events(trace_id, null, '[{"index": 0, "seq": 1, "type": "session.end", "payload": {"outcome": "failure"}}]');
end
$$;
create function pg_temp.slow(recovered boolean default null) returns jsonb
language sql
as $$
    select case when recovered is null then f else f || jsonb_build_object('recovered', recovered) end
    from tests.finding('timeout', 'search', 'TimeoutError', 'timed out after 30s') as f
$$;
grant execute on function pg_temp.ended(text, jsonb), pg_temp.slow(boolean) to public;

select tests.authenticate_as_key('adk_test_a1');
select pg_temp.ended('b-1', '{"task_key": "k1"}');
select pg_temp.ended('b-2', '{"task_key": "k2"}');
select pg_temp.ended('b-3', '{"task_key": "k3"}');
select null::void from (
    select api.store_analysis(t, null, tests.analysis(pg_temp.slow()), 'analyze')
    from unnest(array['b-1', 'b-2', 'b-3']) as t
) as stored;
-- After-sessions: k1 recovered from the same failure, k2 still fails, k3 fails only below the threshold.
select pg_temp.ended('a-1', '{"task_key": "k1"}');
select pg_temp.ended('a-2', '{"task_key": "k2"}');
select pg_temp.ended('a-3', '{"task_key": "k3"}');
select null::void from api.store_analysis('a-1', null, tests.analysis(pg_temp.slow(true)), 'analyze');
select null::void from api.store_analysis('a-2', null, tests.analysis(pg_temp.slow(false)), 'analyze');
select null::void from api.store_analysis('a-3', null, tests.analysis(
    tests.finding('auth_error', 'search', 'AuthError', 'maybe unauthorized', 0.5)
), 'analyze');
reset role;
create temporary table ids as select incident_id as a from app.incidents where workspace_id = 'ws_a';
grant select on ids to authenticated, agentdeck_key, service_role;
select is((select count(*) from ids), 1::bigint, 'the three before-sessions form one incident');

-- A run whose sessions are all analysed with its version settles in the creating call.
select tests.authenticate_as('alice');
create temporary table judged as
select api.create_regression_run((select a from ids), '{"after_session_ids": ["a-3", "a-1", "a-2"]}', 'test', 3600) as run;
grant select on judged to authenticated, agentdeck_key, service_role;
select is((select run ->> 'status' from judged), 'failed', 'a still-failing task fails the run at once');
select is(
    (select jsonb_agg(jsonb_build_array(p ->> 'task', p ->> 'verdict')) from judged, jsonb_array_elements(run -> 'pairs') as p),
    '[["k1", "fixed"], ["k2", "still_failing"], ["k3", "fixed"]]'::jsonb,
    'recovered and below-threshold findings are not failures; pairs follow the before order'
);
select is((select run #> '{summary,sign_test}' from judged),
    '{"improved": 2, "worsened": 0, "discordant": 2, "p_value": 0.5}'::jsonb, 'two improved pairs: p = 2 * 1/4');
select is(
    (select array_agg(verdict order by ordinal) from app.regression_run_sessions where side = 'after'),
    array['fixed', 'fixed', 'still_failing'], 'each after-session stores its verdict (in the order given: a-3, a-1, a-2)'
);
reset role;

-- The exact sign test, against p-values computed by hand.
select is(internal.sign_test(4, 0) ->> 'p_value', '0.125', 'b=4, c=0: 2 * 1/16');
select is(internal.sign_test(9, 1) ->> 'p_value', '0.021484375', 'b=9, c=1: 2 * (1 + 10) / 1024');
select is(internal.sign_test(1, 9) ->> 'p_value', '0.021484375', 'symmetric in b and c');
select is(internal.sign_test(10, 0) ->> 'p_value', '0.001953125', 'b=10, c=0: 2 / 1024');
select is(internal.sign_test(3, 3) ->> 'p_value', '1', 'balanced: p = 1 (capped)');
select is(internal.sign_test(0, 0) ->> 'p_value', '1', 'no discordant pair: p = 1');
select is(internal.sign_test(12, 5) ->> 'p_value', '0.143463134765625',
    'b=12, c=5: 2 * (1 + 17 + 136 + 680 + 2380 + 6188) / 131072');

-- Who may start runs.
select tests.authenticate_as('vera');
select throws_ok($$ select api.create_regression_run((select a from ids), '{}', 'test', 3600) $$,
    'AD403', null, 'a viewer cannot start a run');
select throws_ok($$ insert into app.regression_runs (workspace_id, run_id, project_id, incident_id, fingerprint,
    pairing, detector_version, expected_after, deadline_at, due_at)
    select 'ws_a', 'rr_x', 'proj_a1', (select a from ids), repeat('0', 64), 'order', 't', 1, now(), now() $$,
    '42501', null, 'nor insert one behind the function''s back');
reset role;
select tests.authenticate_as('bob');
select throws_ok($$ select api.create_regression_run((select a from ids), '{}', 'test', 3600) $$,
    'AD404', null, 'a member of B cannot reach A''s incident: 404');
select is_empty($$ select * from app.regression_runs $$, 'nor see A''s runs');
reset role;
select tests.authenticate_as('alice');
select null::void from api.create_trace('{"id": "a2-only", "project_id": "proj_a2"}');
select throws_ok($$ select api.create_regression_run((select a from ids), '{"after_session_ids": ["a2-only"]}', 'test', 3600) $$,
    'AD404', null, 'a session outside the incident''s project is not found');
select throws_ok($$ select api.create_regression_run((select a from ids),
    '{"before_session_ids": ["b-1"], "after_session_ids": ["b-1"]}', 'test', 3600) $$,
    'AD422', 'session b-1 is given more than once', 'a session cannot be on both sides');
reset role;

-- The queue as the worker left it: every job done.
update app.analysis_jobs set status = 'done';
-- A pending run (version 'next': nothing is analysed with it yet) that after-sessions join as they are created.
select tests.authenticate_as_key('adk_test_a1');
create temporary table pending as
select api.create_regression_run((select a from ids), '{"expected_after": 2}', 'next', 3600) as run;
grant select on pending to authenticated, agentdeck_key, service_role;
reset role;
select is((select run ->> 'status' from pending), 'pending', 'a run waiting for its after-sessions is pending');
select is(
    (select count(*) from app.analysis_jobs where trace_id in ('b-1', 'b-2', 'b-3') and status = 'queued'),
    3::bigint, 'before-sessions analysed with another detector version are queued for re-analysis'
);
select tests.authenticate_as_key('adk_test_a1');
select lives_ok($$ select api.create_trace(jsonb_build_object('id', 'late-1', 'metadata',
    jsonb_build_object('task_key', 'k1', 'regression_run_id', (select run ->> 'id' from pending)))) $$,
    'a session naming the run is created');
select is(
    (select jsonb_build_array(side, task, ordinal) from app.regression_run_sessions where trace_id = 'late-1'),
    '["after", "k1", 1]'::jsonb, 'and joins it as its first after-session of task k1'
);
select throws_ok($$ select api.create_trace('{"id": "late-2", "metadata": {"regression_run_id": "rr_nope"}}') $$,
    'AD422', null, 'a session naming no run of its project is refused, and not created');
reset role;
select tests.authenticate_as('bob');
select throws_ok($$ select api.create_trace(jsonb_build_object('id', 'late-b', 'project_id', 'proj_b1', 'metadata',
    jsonb_build_object('regression_run_id', (select run ->> 'id' from pending)))) $$,
    'AD422', null, 'a session of B cannot join A''s run');
reset role;

-- Settling: the service of another workspace cannot; an analysis makes the session's runs due.
select tests.authenticate_as_service('ws_b');
select throws_ok($$ select api.settle_regression_run('ws_a', (select run ->> 'id' from pending)) $$,
    '42501', null, 'the service acting for B cannot settle A''s run');
reset role;
update app.regression_runs set due_at = now() + interval '1 hour' where run_id = (select run ->> 'id' from pending);
select tests.authenticate_as_key('adk_test_a1');
select null::void from api.store_analysis('late-1', null, tests.analysis(variadic '{}'::jsonb[]), 'analyze');
reset role;
select ok(
    (select due_at <= now() from app.regression_runs where run_id = (select run ->> 'id' from pending)),
    'storing an analysis of one of its sessions makes the run due for the worker'
);
select tests.authenticate_as_service('ws_a');
select is(
    api.settle_regression_run('ws_a', (select run ->> 'id' from pending)), null,
    'settling before it is complete and before the deadline leaves it pending'
);
reset role;
select is(
    (select (status, due_at) from app.regression_runs where run_id = (select run ->> 'id' from pending)),
    (select ('pending'::text, deadline_at) from app.regression_runs where run_id = (select run ->> 'id' from pending)),
    'and due again at its deadline'
);

select * from finish();
rollback;
