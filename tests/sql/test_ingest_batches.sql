-- api.append_events: each outcome code, positions, and that invisible sessions cannot even be detected.
begin;
select plan(22);
select tests.seed();

select tests.authenticate_as_key('adk_test_a1');
select is(
    (api.create_trace('{"id": "t1"}') -> 'session' ->> 'project_id'), 'proj_a1', 'a key creates in its own project'
);
select is(
    api.append_events('t1', null, $$[
        {"index": 0, "seq": 1, "type": "log", "payload": {"m": 1}},
        {"index": 1, "seq": 2, "type": "log", "payload": {"m": 2}},
        {"index": 2, "seq": 2, "idempotency_key": "other", "type": "log", "payload": {"m": 3}},
        {"index": 3, "seq": 0, "idempotency_key": "late", "type": "log", "payload": {"m": 4}},
        {"index": 4, "seq": 2, "type": "log", "payload": {"m": 2}},
        {"index": 5, "seq": 3, "idempotency_key": "t1:1", "type": "log", "payload": {"m": 5}}
    ]$$) - 'first_position',
    $${"accepted": 2, "duplicates": 1, "rejected": [
        {"code": "seq_conflict", "index": 2, "reason": "seq already stored under another idempotency key",
         "idempotency_key": "other"},
        {"code": "seq_not_monotonic", "index": 3, "reason": "seq must be monotonic for this session",
         "idempotency_key": "late"},
        {"code": "idempotency_conflict", "index": 5,
         "reason": "idempotency key already used with different content", "idempotency_key": "t1:1"}
    ]}$$::jsonb,
    'one batch yields accepted, duplicate, seq_conflict, seq_not_monotonic and idempotency_conflict'
);
select is(
    api.append_events('t1', null, $$[{"index": 0, "seq": 1, "type": "log", "payload": {"m": 1}}]$$)
    -> 'duplicates',
    '1'::jsonb,
    'an exact replay of a stored event is a duplicate'
);
select is(
    api.append_events('t1', null, $$[
        {"index": 0, "seq": 9, "type": "session.end", "payload": {"outcome": "failure"}},
        {"index": 1, "seq": 10, "type": "log", "payload": {}}
    ]$$) -> 'rejected' -> 0 ->> 'code',
    'session_ended',
    'events after session.end are rejected'
);
reset role;

select results_eq(
    $$ select status, last_seq, event_count from app.trace_sessions where trace_id = 't1' $$,
    $$ values ('failure'::text, 9::bigint, 3) $$,
    'the session records its outcome, last seq and count'
);
select results_eq(
    $$ select array_agg(p order by p) from (
           select m.position + o.n - 1 as p from app.stream_messages m
           cross join lateral generate_series(1, m.message_count) as o (n)
           where m.workspace_id = 'ws_a') as positions $$,
    $$ select array_agg(p::bigint) from generate_series(1, 5) as p $$,
    'stream positions are 1..N: create, three events, session end'
);
select is(
    (select count(*)::integer from app.events where trace_id = 't1'), 3, 'nothing is stored twice'
);

-- A session of another project (proj_a2) and of another workspace (ws_b).
select tests.authenticate_as('alice');
select lives_ok($$ select api.create_trace('{"id": "hidden", "project_id": "proj_a2"}') $$,
    'alice creates a session in proj_a2');
reset role;
select tests.authenticate_as('bob');
select lives_ok($$ select api.create_trace('{"id": "hidden", "project_id": "proj_b1"}') $$,
    'bob creates a session with the same id in proj_b1');
reset role;

select tests.authenticate_as_key('adk_test_a1');
select throws_ok($$ select api.append_events('hidden', null, '[]') $$, 'AD404', 'trace hidden not found',
    'a key cannot append to a session of another project: 404, not 403');
select throws_ok($$ select api.list_events('hidden', null, null, 10, null) $$, 'AD404', null,
    'nor read its events');
select throws_ok($$ select api.append_events('hidden', 'proj_b1', '[]') $$, 'AD404', null,
    'nor reach another workspace''s session by naming its project');
select is_empty($$ select * from app.trace_sessions where trace_id = 'hidden' $$,
    'nor see it in the table');
select is(api.list_sessions('{"limit": 10}') -> 'sessions' -> 0 ->> 'id', 't1', 'its list holds only its own');
select throws_ok($$ select api.list_sessions('{"limit": 10, "project_id": "proj_a2"}') $$, 'AD403', null,
    'a filter naming another project is 403');
select throws_ok($$ select api.create_trace('{"project_id": "proj_a2"}') $$, 'AD403', null,
    'a key cannot create in another project');
select throws_ok(
    $$ insert into app.events (workspace_id, project_id, trace_id, seq, idempotency_key, type, content_hash)
       values ('ws_a', 'proj_a2', 'hidden', 1, 'x', 'log', sha256('x')) $$,
    '42501', null, 'direct inserts into another project are refused by RLS'
);
reset role;

select tests.authenticate_as('vera');
select throws_ok($$ select api.append_events('t1', null, '[]') $$, 'AD403', null,
    'a viewer sees the session but may not append');
select is(jsonb_array_length(api.list_events('t1', null, null, 10, null) -> 'events'), 3, 'a viewer reads events');
reset role;

select tests.authenticate_as('alice');
select lives_ok($$ select api.append_events('hidden', null, '[]') $$,
    'alice resolves the id to her own session: bob''s of the same id is invisible, not ambiguous');
reset role;

select tests.authenticate_as_key('adk_test_revoked');
select throws_ok($$ select api.list_sessions('{"limit": 10}') $$, 'AD401', null, 'a revoked key is refused');
reset role;

select tests.authenticate_as_service('ws_b');
select is(
    api.list_sessions('{"limit": 10}') -> 'sessions' -> 0 ->> 'project_id', 'proj_b1',
    'the service reads only its named workspace'
);
reset role;

select * from finish();
rollback;
