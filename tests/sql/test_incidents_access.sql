-- Who may see and change incidents, and the audit log that records every change: cross-workspace
-- PATCH is impossible, viewers and keys cannot change anything, owners must be members, and no
-- request role (nor the owner) can update or delete an audit row.
begin;
select plan(37);
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

-- Cross-workspace and read-only credentials: refused before anything changes.
select tests.authenticate_as('bob');
select throws_ok($$ select api.update_incident((select a from ids), '{"status": "resolved"}') $$,
    'AD404', null, 'a member of B cannot reach an incident of A: 404, as if it did not exist');
reset role;
select tests.authenticate_as_service('ws_b');
select throws_ok($$ select api.update_incident((select a from ids), '{"status": "resolved"}') $$,
    'AD404', null, 'nor can the service acting for B');
reset role;
select tests.authenticate_as('vera');
select throws_ok($$ select api.update_incident((select a from ids), '{"status": "resolved"}') $$,
    'AD403', 'this credential may not write to project proj_a1 of workspace ws_a',
    'a viewer sees the incident but cannot change it');
select throws_ok($$ update app.incidents set status = 'ignored' $$, '42501', null,
    'nor change it behind the function''s back (no request role may update the table)');
reset role;
select tests.authenticate_as_key('adk_test_a1');
select throws_ok($$ select api.update_incident((select a from ids), '{"status": "resolved"}') $$,
    '42501', null, 'an API key may not call update_incident at all');
select throws_ok($$ update app.incidents set status = 'ignored' $$, '42501', null,
    'nor update the table');
reset role;
select tests.authenticate_as('alice');
select throws_ok(
    $$ select api.update_incident((select a from ids), jsonb_build_object('owner', tests.user_id('bob'))) $$,
    'AD422', null, 'the owner must be a member of the incident''s workspace (bob is in B)'
);
select throws_ok(
    $$ select api.update_incident((select a from ids), jsonb_build_object('owner', tests.user_id('nobody'))) $$,
    'AD422', null, 'a user in no workspace cannot own it'
);
select throws_ok($$ select api.update_incident((select a from ids), '{"status": "closed"}') $$,
    'AD422', null, 'an unknown status is refused');
select throws_ok($$ select api.update_incident((select b from ids), '{"status": "resolved"}') $$,
    'AD404', null, 'alice cannot reach B''s incident either');
select throws_ok($$ update app.incidents set session_count = 0 $$, '42501', null,
    'members may not touch counts directly (no column grant)');
reset role;
select results_eq(
    $$ select workspace_id, status, owner from app.incidents order by workspace_id $$,
    $$ values ('ws_a'::text, 'open'::text, null::uuid), ('ws_b', 'open', null) $$,
    'every refused attempt left both incidents as they were'
);
select is_empty($$ select from app.audit_log $$, 'and wrote nothing to the audit log');

-- Allowed changes: each audited and streamed.
select tests.authenticate_as('alice');
select set_config('request.id', 'req_1', true);
select is(
    api.update_incident((select a from ids), jsonb_build_object('owner', tests.user_id('vera'))) ->> 'owner',
    tests.user_id('vera')::text, 'a member assigns a member of the workspace (any role)'
);
select set_config('request.id', 'req_2', true);
select is(
    api.update_incident((select a from ids), '{"owner": null}') -> 'owner', 'null'::jsonb,
    'and unassigns'
);
select set_config('request.id', 'req_noop', true);
select is(
    api.update_incident((select a from ids), '{"status": "open"}') ->> 'status', 'open',
    'a change to the current value answers the incident'
);
reset role;
select tests.authenticate_as_service('ws_a');
select set_config('request.id', 'req_3', true);
select is(
    api.update_incident((select a from ids), '{"status": "acknowledged"}') ->> 'status', 'acknowledged',
    'the service acknowledges for its workspace'
);
reset role;
select results_eq(
    $$ select actor_kind, actor_id, action, target_type, target_id, before, after, request_id
       from app.audit_log order by audit_id $$,
    $$ values
       ('user'::text, tests.user_id('alice')::text, 'incident.updated'::text, 'incident'::text, (select a from ids),
        '{"owner": null, "status": "open", "regressed": false}'::jsonb,
        jsonb_build_object('owner', tests.user_id('vera'), 'status', 'open', 'regressed', false), 'req_1'::text),
       ('user', tests.user_id('alice')::text, 'incident.updated', 'incident', (select a from ids),
        jsonb_build_object('owner', tests.user_id('vera'), 'status', 'open', 'regressed', false),
        '{"owner": null, "status": "open", "regressed": false}', 'req_2'),
       ('service', null, 'incident.updated', 'incident', (select a from ids),
        '{"owner": null, "status": "open", "regressed": false}',
        '{"owner": null, "status": "acknowledged", "regressed": false}', 'req_3') $$,
    'each change is audited with actor, action, target, before, after and request id; a no-op is not'
);
select is(
    (select count(*)::integer from app.stream_messages where kind = 'incident.updated' and trace_id is null), 5,
    'each change streamed incident.updated (after the two clustering streamed; incidents belong to no session)'
);

-- PUT (source service) is audited with the analysis it replaced.
select tests.authenticate_as_service('ws_a');
select null::void from api.store_analysis('a-1', null, tests.analysis(
    tests.finding('timeout', 'search', 'TimeoutError', 'timed out after 31s')
), 'service');
reset role;
select results_eq(
    $$ select actor_kind, target_type, target_id, before ->> 'source', after ->> 'source'
       from app.audit_log where action = 'analysis.stored' $$,
    $$ values ('service'::text, 'analysis'::text, 'a-1'::text, 'analyze'::text, 'service'::text) $$,
    'a workflow analysis (PUT) is audited with the analysis it replaced'
);

-- Reading: each credential sees its own incidents; filters narrow, never broaden.
select tests.authenticate_as('alice');
select results_eq(
    $$ select jsonb_array_elements(api.list_incidents('{"limit": 10}') -> 'incidents') ->> 'id' $$,
    $$ select a from ids $$, 'a member of A lists A''s incidents only'
);
select throws_ok($$ select api.list_incidents('{"limit": 10, "project_id": "proj_b1"}') $$, 'AD403', null,
    'naming a project of B is a 403');
select is(
    jsonb_array_length(api.list_incidents('{"limit": 10, "status": "open"}') -> 'incidents'), 0,
    'the status filter narrows'
);
select throws_ok($$ select api.list_incidents('{"limit": 10, "cursor": "bm90IG91cnM"}') $$, 'AD400',
    'cursor is not one this server issued', 'a cursor we did not make is a 400');
reset role;
select tests.authenticate_as_key('adk_test_b1');
select results_eq(
    $$ select jsonb_array_elements(api.list_incidents('{"limit": 10}') -> 'incidents') ->> 'id' $$,
    $$ select b from ids $$, 'a key lists its project''s incidents only'
);
reset role;

-- The audit log is append-only for every request role, and for the owner too.
select tests.authenticate_as('alice');
select throws_ok($$ update app.audit_log set action = 'x.y' $$, '42501', null, 'authenticated cannot update it');
select throws_ok($$ delete from app.audit_log $$, '42501', null, 'authenticated cannot delete from it');
select throws_ok(
    $$ insert into app.audit_log (workspace_id, project_id, actor_kind, action, target_type, target_id)
       values ('ws_a', 'proj_a1', 'service', 'incident.updated', 'incident', 'inc_forged') $$,
    '42501', null, 'authenticated cannot insert (forge) rows directly'
);
reset role;
select tests.authenticate_as_key('adk_test_a1');
select throws_ok($$ update app.audit_log set action = 'x.y' $$, '42501', null, 'agentdeck_key cannot update it');
select throws_ok($$ delete from app.audit_log $$, '42501', null, 'agentdeck_key cannot delete from it');
select throws_ok(
    $$ select internal.write_audit('ws_a', 'proj_a1', 'incident.updated', 'incident', 'x', null, null, null) $$,
    '42501', 'permission denied for function write_audit',
    'agentdeck_key cannot write audit rows even through the helper'
);
reset role;
select tests.authenticate_as_service('ws_a');
select throws_ok($$ update app.audit_log set action = 'x.y' $$, '42501', null, 'service_role cannot update it');
select throws_ok($$ delete from app.audit_log $$, '42501', null, 'service_role cannot delete from it');
select throws_ok(
    $$ select internal.write_audit('ws_a', 'proj_a1', 'incident.updated', 'incident', 'x', null, null, null) $$,
    '42501', 'permission denied for function write_audit', 'nor write audit rows through the helper, even in its own workspace'
);
reset role;
set local role agentdeck_owner;
select is_empty($$ update app.audit_log set action = 'x.y' returning 1 $$, 'the owner''s policies allow no update');
select is_empty($$ delete from app.audit_log returning 1 $$, 'nor any delete');
reset role;
select is((select count(*)::integer from app.audit_log), 4, 'every audit row is still there');

select * from finish();
rollback;
