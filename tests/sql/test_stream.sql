-- The stream in SQL: reads keep to the credential across workspaces A, B and the canary; the hub's
-- read is the API login role's alone; internal.emit_stream_message's contract; retention.
begin;
select plan(57);
select tests.seed();

-- A: t_a1 (proj_a1) at positions 1-4, t_a2 (proj_a2) at 5-8; B and the canary: one session each at 1-4.
insert into app.trace_sessions (workspace_id, project_id, trace_id, create_hash) values
('ws_a', 'proj_a1', 't_a1', '\x00'), ('ws_a', 'proj_a2', 't_a2', '\x00'),
('ws_b', 'proj_b1', 't_b1', '\x00'), ('ws_canary', 'proj_canary1', 't_c1', '\x00');
insert into app.events (workspace_id, project_id, trace_id, seq, idempotency_key, type, payload, content_hash)
select s.workspace_id, s.project_id, s.trace_id, g.seq, s.trace_id || ':' || g.seq, 'log',
    jsonb_build_object('n', g.seq), '\x00'
from app.trace_sessions as s cross join generate_series(1, 3) as g (seq);
insert into app.stream_counters (workspace_id, last_position) values ('ws_a', 8), ('ws_b', 4), ('ws_canary', 4);
insert into app.stream_messages (workspace_id, position, message_count, kind, project_id, trace_id, event_seqs, payload)
select s.workspace_id, s.base + 1, 1, 'session.updated', s.project_id, s.trace_id, null::bigint[],
    jsonb_build_object('id', s.trace_id)
from (select *, case when trace_id = 't_a2' then 4 else 0 end as base from app.trace_sessions) as s
union all
select s.workspace_id, s.base + 2, 3, 'trace.event', s.project_id, s.trace_id, '{1,2,3}', null
from (select *, case when trace_id = 't_a2' then 4 else 0 end as base from app.trace_sessions) as s;

-- Reading back as a member of A.
select tests.authenticate_as('alice');
select results_eq($$select stream_position from api.stream_backfill('ws_a', null, null, 0, 100)$$,
    $$values (1::bigint), (2), (3), (4), (5), (6), (7), (8)$$, 'a member reads every position of A, in order');
select results_eq($$select stream_position, kind from api.stream_backfill('ws_a', null, null, 3, 3)$$,
    $$values (4::bigint, 'trace.event'), (5, 'session.updated'), (6, 'trace.event')$$,
    'a cursor inside a batch resumes at the next event, and the page is bounded');
select results_eq($$select data -> 'event' -> 'seq' from api.stream_backfill('ws_a', null, null, 2, 2)$$,
    $$values ('2'::jsonb), ('3')$$, 'trace.event data carries the event at that position');
select results_eq($$select stream_position from api.stream_backfill('ws_a', 'proj_a2', null, 0, 100)$$,
    $$values (5::bigint), (6), (7), (8)$$, 'project_id narrows to that project');
select results_eq($$select stream_position from api.stream_backfill('ws_a', null, 't_a1', 0, 100)$$,
    $$values (1::bigint), (2), (3), (4)$$, 'session_id narrows to that session');
select throws_ok($$select * from api.stream_backfill('ws_b', null, null, 0, 100)$$, 'AD403', null,
    'a member of A cannot read B''s stream');
select results_eq($$select distinct workspace_id from app.stream_messages$$, $$values ('ws_a')$$,
    'the table itself shows a member of A only A');
select is_empty($$select * from internal.stream_page('ws_canary', 0, 100, null, null)$$,
    'the canary is invisible to a member of A, even through the shared page reader');
select is(api.stream_authorize(null, null),
    '{"workspace_id": "ws_a", "project_ids": null, "head": 8, "retained_after": 0}'::jsonb,
    'a member follows its one workspace, every project of it');
select throws_ok($$select api.stream_authorize('ws_b', null)$$, 'AD403', null, 'naming B is a 403');
select throws_ok($$select api.stream_authorize(null, 'proj_b1')$$, 'AD403', null, 'naming a project of B is a 403');
select throws_ok($$select api.stream_authorize('ws_a', 'proj_b1')$$, 'AD403', null,
    'a project outside the named workspace is a 403');
reset role;

-- An API key of proj_a1.
select tests.authenticate_as_key('adk_test_a1');
select results_eq($$select stream_position from api.stream_backfill('ws_a', null, null, 0, 100)$$,
    $$values (1::bigint), (2), (3), (4)$$, 'a key reads its own project only');
select throws_ok($$select * from api.stream_backfill('ws_a', 'proj_a2', null, 0, 100)$$, 'AD403', null,
    'a key naming another project of its workspace is a 403');
select is(api.stream_authorize(null, null),
    '{"workspace_id": "ws_a", "project_ids": ["proj_a1"], "head": 8, "retained_after": 0}'::jsonb,
    'a key is authorised for its one project');
reset role;
select tests.authenticate_as_key('adk_test_revoked');
select throws_ok($$select api.stream_authorize(null, null)$$, 'AD401', null, 'a revoked key is refused');
reset role;

-- B's member and service, and a stranger.
select tests.authenticate_as('bob');
select results_eq($$select stream_position from api.stream_backfill('ws_b', null, null, 0, 100)$$,
    $$values (1::bigint), (2), (3), (4)$$, 'a member of B reads B');
select throws_ok($$select * from api.stream_backfill('ws_a', null, null, 0, 100)$$, 'AD403', null,
    'a member of B cannot read A');
select results_eq($$select * from internal.stream_bounds('ws_a')$$, $$values (0::bigint, 0::bigint)$$,
    'the bounds of an invisible workspace are nothing');
reset role;
select tests.authenticate_as_service('ws_b');
select results_eq($$select stream_position from api.stream_backfill('ws_b', null, null, 0, 100)$$,
    $$values (1::bigint), (2), (3), (4)$$, 'the service reads its named workspace');
select throws_ok($$select * from api.stream_backfill('ws_a', null, null, 0, 100)$$, 'AD403', null,
    'the service cannot read another workspace');
reset role;
select tests.authenticate_as('nobody');
select throws_ok($$select api.stream_authorize(null, null)$$, 'AD403', null, 'a user in no workspace is a 403');
reset role;

-- A user in two workspaces must name one.
insert into app.workspace_members (workspace_id, user_id, role) values ('ws_b', tests.user_id('alice'), 'viewer');
select tests.authenticate_as('alice');
select throws_ok($$select api.stream_authorize(null, null)$$, 'AD400', null,
    'a user in several workspaces must name the one to follow');
select is(api.stream_authorize('ws_b', null) ->> 'workspace_id', 'ws_b', 'naming one of them follows it');
reset role;

-- The hub's read: the API login role's alone, and it reads the whole named workspace.
select ok(not has_function_privilege('authenticated', 'internal.stream_fetch(text, bigint, integer)', 'execute')
    and not has_function_privilege('agentdeck_key', 'internal.stream_fetch(text, bigint, integer)', 'execute')
    and not has_function_privilege('service_role', 'internal.stream_fetch(text, bigint, integer)', 'execute'),
    'no request role may run the hub''s read');
select ok(has_function_privilege('agentdeck_api', 'internal.stream_fetch(text, bigint, integer)', 'execute'),
    'the API login role may run the hub''s read');
set local role agentdeck_api;
select results_eq($$select count(*)::int from internal.stream_fetch('ws_canary', 0, 100)$$, $$values (4)$$,
    'the hub reads every message of the workspace it names');
select throws_ok($$select * from app.stream_messages$$, '42501', null, 'the login role still reads no table');
reset role;

-- Emitting: the owner's alone; one position, one row, only into projects the request may write to.
select tests.authenticate_as('alice');
select throws_ok($$select internal.emit_stream_message('ws_a', 'proj_a2', null, 'incident.updated', '{}')$$,
    '42501', 'permission denied for function emit_stream_message', 'no request role may emit (a member)');
select is(tests.emit_stream_message('ws_a', 'proj_a2', null, 'incident.updated', '{"id": "inc_1"}'), 9::bigint,
    'emit takes the next position');
select results_eq(
    $$select kind, project_id, message_count, payload from app.stream_messages where workspace_id = 'ws_a' and position = 9$$,
    $$values ('incident.updated', 'proj_a2', 1, '{"id": "inc_1"}'::jsonb)$$, 'emit logs one message');
select results_eq($$select data -> 'incident', data ->> 'kind' from api.stream_backfill('ws_a', null, null, 8, 10)$$,
    $$values ('{"id": "inc_1"}'::jsonb, 'incident.updated')$$, 'the emitted payload is what subscribers read');
select throws_ok($$select tests.emit_stream_message('ws_a', 'proj_a1', 't_a1', 'trace.event', '{}')$$, '22023',
    null, 'trace.event is not emitted with a payload');
select throws_ok($$select tests.emit_stream_message('ws_canary', 'proj_canary1', null, 'incident.updated', '{}')$$,
    '42501', null, 'even the owner''s callers emit into no workspace the request cannot see');
reset role;
select tests.authenticate_as_key('adk_test_a1');
select throws_ok($$select internal.emit_stream_message('ws_a', 'proj_a1', null, 'analysis.completed', '{}')$$,
    '42501', 'permission denied for function emit_stream_message', 'no request role may emit (an API key)');
select throws_ok($$select tests.emit_stream_message('ws_a', 'proj_a2', null, 'analysis.completed', '{}')$$,
    '42501', null, 'a key''s request emits into its own project only');
reset role;
select tests.authenticate_as('vera');
select throws_ok($$select tests.emit_stream_message('ws_a', 'proj_a1', 't_a1', 'analysis.completed', '{}')$$,
    'AD403', null, 'a viewer''s request streams nothing: it writes nowhere');
reset role;
select is((select last_position from app.stream_counters where workspace_id = 'ws_a'), 9::bigint,
    'only the allowed emit moved the head');

-- Retention: a prune moves a watermark forward and deletes the rows wholly below it, trace.event included.
select ok(not has_function_privilege('authenticated', 'internal.prune_stream(text, bigint)', 'execute')
    and not has_function_privilege('service_role', 'internal.prune_stream(text, bigint)', 'execute')
    and not has_function_privilege('agentdeck_api', 'internal.prune_stream(text, bigint)', 'execute'),
    'only the owner prunes by position');
select is(internal.prune_stream('ws_a', 5), 3::bigint,
    'pruning through 5 deletes the rows at 1, 2-4 and 5');
select results_eq($$select position from app.stream_messages where workspace_id = 'ws_a' order by 1$$,
    $$values (6::bigint), (9)$$, 'rows above the watermark stay');
select tests.authenticate_as('alice');
select results_eq(
    $$select stream_position, kind, data from api.stream_backfill('ws_a', null, null, 4, 100)$$,
    $$values (9::bigint, 'reset', '{"reason": "cursor_expired", "cursor": 4, "retained_after": 5, "head": 9}'::jsonb)$$,
    'a cursor below the watermark reads one reset row (id: the head), read in the page''s own snapshot');
select results_eq($$select stream_position from api.stream_backfill('ws_a', null, null, 5, 100)$$,
    $$values (6::bigint), (7), (8), (9)$$, 'a cursor at the watermark reads on');
reset role;
select is(internal.prune_stream('ws_a', 3), 0::bigint, 'pruning below the watermark deletes nothing');
select is((select retained_after from app.stream_counters where workspace_id = 'ws_a'), 5::bigint,
    'the watermark never moves back');

-- The worker's retention pass: bounded batches, per-workspace retention, young rows kept.
select ok(has_function_privilege('agentdeck_api', 'internal.prune_expired_stream(text, interval, integer)', 'execute')
    and not has_function_privilege('authenticated', 'internal.prune_expired_stream(text, interval, integer)', 'execute')
    and not has_function_privilege('agentdeck_key', 'internal.prune_expired_stream(text, interval, integer)', 'execute')
    and not has_function_privilege('service_role', 'internal.prune_expired_stream(text, interval, integer)', 'execute'),
    'the worker (the API login role) runs the retention pass, no request role does');
update app.stream_messages set created_at = now() - interval '2 days' where workspace_id in ('ws_b', 'ws_canary');
update app.stream_messages set created_at = now() - interval '2 days' where workspace_id = 'ws_a' and position < 9;
update app.workspaces set stream_retention = interval '3 days' where workspace_id = 'ws_canary';
select results_eq($$select * from internal.prune_expired_stream('', interval '1 day', 1)$$,
    $$values ('ws_a', 1::bigint)$$, 'one call prunes one bounded batch of the first workspace');
select results_eq($$select * from internal.prune_expired_stream('ws_a', interval '1 day', 1)$$,
    $$values ('ws_b', 1::bigint)$$, 'the next call the next workspace''s');
select results_eq($$select * from internal.prune_expired_stream('ws_b', interval '1 day', 1)$$,
    $$values ('ws_canary', 0::bigint)$$, 'the canary keeps its own longer retention');
select is_empty($$select * from internal.prune_expired_stream('ws_canary', interval '1 day', 1)$$,
    'no workspace is left after the last');
select results_eq(
    $$select workspace_id, retained_after from app.stream_counters order by 1$$,
    $$values ('ws_a', 8::bigint), ('ws_b', 1::bigint), ('ws_canary', 0::bigint)$$,
    'each watermark moved to the end of what was pruned');
select results_eq($$select * from internal.prune_expired_stream('', interval '1 day', 100)$$,
    $$values ('ws_a', 0::bigint)$$, 'rows younger than retention stay (A at 9)');
select results_eq($$select * from internal.prune_expired_stream('ws_a', interval '1 day', 100)$$,
    $$values ('ws_b', 1::bigint)$$, 'the next pass continues where the batch stopped');
select results_eq($$select * from internal.prune_expired_stream('', null, 100)$$, $$values ('ws_canary', 0::bigint)$$,
    'without a default, only workspaces with a retention of their own are visited');
select is((select count(*)::integer from app.stream_messages where workspace_id = 'ws_a'), 1,
    'A keeps its young row');
select lives_ok($$select internal.prune_stream('ws_a', 1000)$$, 'pruning past the head');
select is((select retained_after from app.stream_counters where workspace_id = 'ws_a'), 9::bigint,
    'the watermark stops at the head');

select * from finish();
rollback;
