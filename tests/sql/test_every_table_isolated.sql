-- Every table in app, whatever issue added it: a member of A, and an API key of A's project,
-- see no row of B or of the canary and can insert, update or delete none of them.
begin;
select plan(9);
select tests.seed();

-- Rows in every table for all three workspaces, written through the API functions as each one's service.
create function pg_temp.populate(ws text, proj text) returns void
language plpgsql
as $$
begin
    perform tests.authenticate_as_service(ws);
    perform api.create_trace(jsonb_build_object('id', 'iso', 'project_id', proj));
    perform api.append_events('iso', proj, $e$[
        {"index": 0, "seq": 1, "type": "tool.call", "payload": {"tool": "t", "arguments": {}}},
        {"index": 1, "seq": 2, "type": "session.end", "payload": {"outcome": "failure"}}
    ]$e$);
    perform api.store_analysis('iso', proj, tests.analysis(tests.finding('timeout', 't', 'Timeout', 'slow')), 'service');
    perform api.create_trace(jsonb_build_object('id', 'iso-after', 'project_id', proj));
    perform api.create_regression_run(
        (select i.incident_id from app.incidents as i where i.workspace_id = ws),
        '{"after_session_ids": ["iso-after"]}', 'test', 3600
    );
    reset role;
    insert into app.artifacts (
        workspace_id, artifact_id, project_id, trace_id, kind, content_type, size_bytes, sha256, storage_backend,
        storage_path
    ) values (ws, 'art_iso', proj, 'iso', 'log', 'text/plain', 1, sha256('x'), 'local', ws || '/' || proj || '/iso/x');
    insert into app.incident_settings (workspace_id, min_confidence) values (ws, 0.8);
    insert into app.fix_runs (workspace_id, fix_run_id, project_id, incident_id, runner, actor_kind, deadline_at)
    select ws, 'fix_iso', proj, i.incident_id, 'rules', 'service', now() from app.incidents as i where i.workspace_id = ws;
end
$$;
select pg_temp.populate('ws_a', 'proj_a1');
select pg_temp.populate('ws_b', 'proj_b1');
select pg_temp.populate('ws_canary', 'proj_canary1');

create function pg_temp.tables() returns setof text
language sql
as $$
    select c.relname::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'app' and c.relkind = 'r' order by 1
$$;
create function pg_temp.tables_without_b_rows() returns setof text
language plpgsql
as $$
declare
    t text;
    n bigint;
begin
    for t in select * from pg_temp.tables() loop
        execute format('select count(*) from app.%I where workspace_id = $1', t) into n using 'ws_b';
        if n = 0 then
            return next t;
        end if;
    end loop;
end
$$;
select is_empty(
    'select * from pg_temp.tables_without_b_rows()',
    'the fixture put rows of B into every table (so the checks below are not vacuous)'
);

-- One copy of a B row per table, to try inserting it back as A.
create function pg_temp.copy_foreign_rows() returns void
language plpgsql
as $$
declare
    t text;
begin
    for t in select * from pg_temp.tables() loop
        execute format('create temp table %I as select * from app.%I where workspace_id = ''ws_b'' limit 1',
            'copy_' || t, t);
        execute format('grant select on pg_temp.%I to public', 'copy_' || t);
    end loop;
end
$$;
select pg_temp.copy_foreign_rows();

-- What the current role can do to rows outside `own`: one line per table that leaks or lets a write through.
create function pg_temp.breaches(own text) returns setof text
language plpgsql
as $$
declare
    t text;
    n bigint;
    cols text;
    probe record;
begin
    for t in select * from pg_temp.tables() loop
        -- Reads, updates and deletes of foreign rows, each counted the same way.
        for probe in
            select * from (values
                ('reads', 'select count(*) from app.%I where workspace_id <> $1'),
                ('updated', 'with c as (update app.%I set workspace_id = workspace_id where workspace_id <> $1'
                    || ' returning 1) select count(*) from c'),
                ('deleted', 'with c as (delete from app.%I where workspace_id <> $1 returning 1) select count(*) from c')
            ) as p (verb, statement)
        loop
            begin
                execute format(probe.statement, t) into n using own;
                if n > 0 then
                    return next format('%s: %s %s foreign rows', t, probe.verb, n);
                end if;
            exception when insufficient_privilege then
                null;
            end;
        end loop;
        -- Generated columns cannot be inserted; identity columns take the copied value.
        select string_agg(quote_ident(a.attname), ', ' order by a.attnum) into cols
        from pg_attribute a
        where a.attrelid = format('app.%I', t)::regclass and a.attnum > 0 and not a.attisdropped
            and a.attgenerated = '';
        begin
            execute format('insert into app.%I (%s) overriding system value select %s from pg_temp.%I',
                t, cols, cols, 'copy_' || t);
            return next format('%s: inserted a row into B', t);
        exception when insufficient_privilege then
            null;
        when others then
            return next format('%s: insert refused for another reason: %s %s', t, sqlstate, sqlerrm);
        end;
    end loop;
end
$$;
grant execute on function pg_temp.breaches(text), pg_temp.tables() to public;

select tests.authenticate_as('alice');
select is_empty($$ select * from pg_temp.breaches('ws_a') $$, 'a member of A: no table leaks or accepts a write into B or the canary');
reset role;
select tests.authenticate_as('vera');
select is_empty($$ select * from pg_temp.breaches('ws_a') $$, 'a viewer of A: the same');
reset role;
select tests.authenticate_as_key('adk_test_a1');
select is_empty($$ select * from pg_temp.breaches('ws_a') $$, 'an API key of A: the same');
reset role;
select tests.authenticate_as_service('ws_a');
select is_empty($$ select * from pg_temp.breaches('ws_a') $$, 'the service naming A: the same');
reset role;
select tests.authenticate_as_key('adk_test_revoked');
select is_empty($$ select * from pg_temp.breaches('ws_none') $$, 'a revoked key: reads and writes nothing anywhere');
reset role;

-- An API key sees exactly its own project in every table that has one.
create function pg_temp.other_projects_seen() returns setof text
language plpgsql
as $$
declare
    t text;
    n bigint;
begin
    for t in
        select c.relname::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
        join pg_attribute a on a.attrelid = c.oid and a.attname = 'project_id'
        where n.nspname = 'app' and c.relkind = 'r'
    loop
        begin
            execute format('select count(*) from app.%I where project_id <> ''proj_a1''', t) into n;
            if n > 0 then
                return next format('%s: %s rows of other projects', t, n);
            end if;
        exception when insufficient_privilege then
            null;
        end;
    end loop;
end
$$;
grant execute on function pg_temp.other_projects_seen() to public;
select tests.authenticate_as('alice');
select lives_ok($$ select api.create_trace('{"id": "a2-only", "project_id": "proj_a2"}') $$,
    'a session in A''s other project');
reset role;
select tests.authenticate_as_key('adk_test_a1');
select is_empty($$ select * from pg_temp.other_projects_seen() $$, 'an API key sees only its own project, table by table');
select isnt_empty($$ select * from app.trace_sessions $$, 'and does see its own rows');
reset role;

select * from finish();
rollback;
