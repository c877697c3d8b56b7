-- The database is the security boundary, whoever holds a SQL connection as a request role:
-- the role (never a claim) says which kind of credential this is; request roles hold no table
-- write privilege on any table of app (whatever issue added it) and execute no writing helper;
-- the api functions that write check write permission themselves.
begin;
select plan(31);
select tests.seed();

-- Forged claims: a claim can never choose a role, nor broaden what a role sees.
select
    set_config('role', 'authenticated', true),
    set_config('request.jwt.claims', '{"role": "service_role", "workspace_id": "ws_b"}', true);
select is_empty('select * from app.projects', 'authenticated claiming service_role for B reads no project');
select is_empty('select * from internal.visible_workspaces()', 'and sees no workspace');
select throws_ok('select internal.require_identity()', 'AD401', null, 'and is refused as unauthenticated');
select throws_ok($$ select api.list_sessions('{"limit": 10}') $$, 'AD401', null, 'by every api function');
reset role;
select
    set_config('role', 'agentdeck_key', true),
    set_config('request.jwt.claims', '{"role": "service_role", "workspace_id": "ws_b"}', true);
select is_empty('select * from app.projects', 'an API key role claiming service_role reads nothing');
select throws_ok($$ select api.create_trace('{"id": "forged", "project_id": "proj_b1"}') $$, 'AD401', null,
    'nor writes anything');
reset role;
select
    set_config('role', 'service_role', true),
    set_config('request.jwt.claims', json_build_object('role', 'authenticated', 'sub', tests.user_id('bob'))::text,
        true);
select is_empty('select * from app.projects', 'the service role claiming to be a user reads nothing');
select throws_ok('select internal.require_identity()', 'AD401', null, 'and is refused');
reset role;
select
    set_config('role', 'authenticated', true),
    set_config('request.jwt.claims', json_build_object(
        'role', 'authenticated', 'sub', tests.user_id('alice'), 'workspace_id', 'ws_b', 'key_hash',
        encode(sha256('adk_test_b1'::bytea), 'hex')
    )::text, true);
select results_eq('select distinct workspace_id from app.projects', $$values ('ws_a')$$,
    'a user''s extra workspace_id and key_hash claims broaden nothing');
reset role;

-- Table privileges, over every table of app: the request roles may only read.
create function pg_temp.table_write_privileges() returns setof text
language sql
as $$
    select format('%s holds %s on app.%s', r.role, p.privilege, c.relname)
    from pg_class as c
    inner join pg_namespace as n on c.relnamespace = n.oid
    cross join unnest(array['authenticated', 'agentdeck_key', 'service_role', 'anon', 'agentdeck_api']) as r (role)
    cross join unnest(array['insert', 'update', 'delete', 'truncate', 'references', 'trigger']) as p (privilege)
    where
        n.nspname = 'app' and c.relkind in ('r', 'p')
        and (
            has_table_privilege(r.role, c.oid, p.privilege)
            or (p.privilege in ('insert', 'update', 'references')
                and has_any_column_privilege(r.role, c.oid, p.privilege))
        )
$$;
select is_empty('select * from pg_temp.table_write_privileges()',
    'no request role (nor anon, nor the login role) holds a write privilege on any app table or column');

-- And trying anyway: every statement kind against every table is refused with 42501.
create function pg_temp.dml_let_through() returns setof text
language plpgsql
as $$
declare
    t text;
    statement text;
begin
    for t in
        select c.relname::text from pg_class as c inner join pg_namespace as n on c.relnamespace = n.oid
        where n.nspname = 'app' and c.relkind in ('r', 'p')
    loop
        foreach statement in array array[
            'insert into app.%1$I default values',
            'update app.%1$I set workspace_id = workspace_id where false',
            'delete from app.%1$I where false',
            'truncate app.%1$I',
            'select * from app.%1$I for update'
        ] loop
            begin
                execute format(statement, t);
                return next format('%s: %s', current_user, format(statement, t));
            exception
                when insufficient_privilege then
                    null;
                when others then
                    return next format('%s: %s reached the table (%s)', current_user, format(statement, t), sqlstate);
            end;
        end loop;
    end loop;
end
$$;
grant execute on function pg_temp.dml_let_through() to public;
select tests.authenticate_as('alice');
select is_empty('select * from pg_temp.dml_let_through()', 'a member''s direct DML is refused on every table');
reset role;
select tests.authenticate_as('vera');
select is_empty('select * from pg_temp.dml_let_through()', 'a viewer''s too');
reset role;
select tests.authenticate_as_key('adk_test_a1');
select is_empty('select * from pg_temp.dml_let_through()', 'an API key''s too');
reset role;
select tests.authenticate_as_service('ws_a');
select is_empty('select * from pg_temp.dml_let_through()', 'the service''s too');
reset role;

-- Functions. A request role executes no volatile helper: every writer is the owner's.
select is_empty(
    $$ select format('%s may execute %s', r.role, p.oid::regprocedure)
       from pg_proc as p inner join pg_namespace as n on p.pronamespace = n.oid
       cross join unnest(array['authenticated', 'agentdeck_key', 'service_role']) as r (role)
       where n.nspname = 'internal' and p.provolatile = 'v' and has_function_privilege(r.role, p.oid, 'execute') $$,
    'no request role may execute a volatile internal function (writers are the owner''s)'
);
-- Honest volatility: a stable or immutable function calls nothing more volatile than itself.
select is_empty(
    $$ select format('%s (%s) calls %s (%s)', f.oid::regprocedure, f.provolatile, h.oid::regprocedure, h.provolatile)
       from pg_proc as f inner join pg_namespace as fn on f.pronamespace = fn.oid
       cross join pg_proc as h inner join pg_namespace as hn on h.pronamespace = hn.oid
       where fn.nspname in ('api', 'internal') and hn.nspname in ('api', 'internal')
           and position(f.provolatile in 'isv') < position(h.provolatile in 'isv')
           and f.prosrc like '%' || hn.nspname || '.' || h.proname || '(%' $$,
    'no stable or immutable api or internal function calls a more volatile one'
);
select ok(
    not has_function_privilege('authenticated', 'internal.write_audit(text, text, text, text, text, jsonb, jsonb, text)',
        'execute')
    and not has_function_privilege('authenticated', 'internal.emit_stream_message(text, text, text, text, jsonb)',
        'execute')
    and not has_function_privilege('authenticated', 'internal.cluster_analysis(text, text, text)', 'execute')
    and not has_function_privilege('service_role', 'internal.take_positions(text, integer)', 'execute')
    and not has_function_privilege('agentdeck_key', 'internal.enqueue_analysis(text, text, text)', 'execute'),
    'the audit writer, the stream emitter, clustering, positions and the queue are the owner''s'
);
select is_empty(
    $$ select format('%s may execute %s', r.role, p.oid::regprocedure)
       from pg_proc as p inner join pg_namespace as n on p.pronamespace = n.oid
       cross join unnest(array['anon', 'public']) as r (role)
       where n.nspname in ('api', 'internal') and has_function_privilege(r.role, p.oid, 'execute') $$,
    'anon and public execute nothing of api or internal'
);
select results_eq(
    $$ select p.oid::regprocedure::text from pg_proc as p inner join pg_namespace as n on p.pronamespace = n.oid
       where n.nspname in ('api', 'internal') and has_function_privilege('agentdeck_api', p.oid, 'execute')
       order by 1 $$,
    $$ values ('internal.analysis_queue_depth()'), ('internal.claim_analysis_job(integer)'),
       ('internal.claim_regression_runs(integer,integer)'),
       ('internal.finish_analysis_job(text,text,text,text,integer)'),
       ('internal.prune_expired_stream(text,interval,integer)'), ('internal.stream_fetch(text,bigint,integer)') $$,
    'the login role itself executes only the worker''s queues and retention pass, its depth for /metrics and the hub''s read'
);
select is_empty(
    $$ select p.oid::regprocedure::text from pg_proc as p inner join pg_namespace as n on p.pronamespace = n.oid
       where n.nspname = 'api' and p.prosrc not like '%perform internal.require_identity();%' $$,
    'every api function checks the identity first'
);
select is_empty(
    $$ select p.oid::regprocedure::text from pg_proc as p inner join pg_namespace as n on p.pronamespace = n.oid
       where n.nspname = 'api' and p.provolatile = 'v' and not p.prosecdef $$,
    'every writing (volatile) api function is security definer: request roles cannot write the tables themselves'
);
select is_empty(
    $$ select p.oid::regprocedure::text from pg_proc as p inner join pg_namespace as n on p.pronamespace = n.oid
       where n.nspname in ('api', 'internal', 'auth') and p.prosecdef
           and not coalesce(p.proconfig @> array['search_path=""'], false) $$,
    'every security definer function pins an empty search_path'
);
-- A security invoker api function cannot reach the owner's helpers; catch it here, not in production.
select is_empty(
    $$ select format('%s calls %s', f.oid::regprocedure, h.oid::regprocedure)
       from pg_proc as f inner join pg_namespace as fn on f.pronamespace = fn.oid
       cross join pg_proc as h inner join pg_namespace as hn on h.pronamespace = hn.oid
       where fn.nspname = 'api' and not f.prosecdef and hn.nspname = 'internal'
           and not has_function_privilege('authenticated', h.oid, 'execute')
           and not has_function_privilege('agentdeck_key', h.oid, 'execute')
           and f.prosrc like '%internal.' || h.proname || '(%' $$,
    'no security invoker api function calls a helper only the owner may execute'
);

-- Write permission, checked by the definers themselves.
select tests.authenticate_as('alice');
select lives_ok($$ select api.create_trace('{"id": "w-1", "project_id": "proj_a1"}') $$, 'a member creates a session');
reset role;
select tests.authenticate_as('vera');
select is(
    api.store_analysis('w-1', null, tests.analysis(tests.finding('timeout', 't', 'T', 'slow')), 'analyze') ->> 'stored',
    'false', 'a viewer''s analysis is never stored (it is computed and returned unstored instead)'
);
select throws_ok($$ select api.append_events('w-1', null, '[{"index": 0, "seq": 1, "type": "log"}]') $$,
    'AD403', null, 'a viewer appends no event');
reset role;
select is_empty('select * from app.analyses', 'the viewer''s analyze stored nothing');
select tests.authenticate_as_key('adk_test_a1');
select lives_ok(
    $$ select api.store_analysis('w-1', null, tests.analysis(tests.finding('timeout', 't', 'T', 'slow')), 'analyze') $$,
    'an API key of the project stores an analysis'
);
select throws_ok(
    $$ select api.store_analysis('w-1', null, tests.analysis(tests.finding('timeout', 't', 'T', 'slow')), 'service') $$,
    'AD403', null, 'but not one of the workflow''s (service only)'
);
reset role;

-- Audit entries of a workspace with no project: its members and its service read them, no one else.
insert into app.audit_log (workspace_id, project_id, actor_kind, action, target_type, target_id)
values ('ws_a', null, 'service', 'workspace.updated', 'workspace', 'ws_a');
select tests.authenticate_as('vera');
select results_eq($$ select target_id from app.audit_log where project_id is null $$, $$ values ('ws_a') $$,
    'a member (even a viewer) reads its workspace''s entries without a project');
reset role;
select tests.authenticate_as('bob');
select is_empty($$ select * from app.audit_log where project_id is null $$, 'another workspace''s member does not');
reset role;

select * from finish();
rollback;
