-- Trace sessions: create, and the helpers appending events uses (append.sql).

create or replace function internal.session_json(s app.trace_sessions) returns jsonb
language sql stable
set search_path = ''
as $$
    select jsonb_build_object(
        'id', s.trace_id,
        'workspace_id', s.workspace_id,
        'project_id', s.project_id,
        'name', s.name,
        'agent', s.agent,
        'environment', s.environment,
        'tags', to_jsonb(s.tags),
        'metadata', s.metadata,
        'status', s.status,
        'last_seq', s.last_seq,
        'event_count', s.event_count,
        'error_count', s.error_count,
        'started_at', s.started_at,
        'ended_at', s.ended_at,
        'created_at', s.created_at,
        'updated_at', s.updated_at
    )
$$;
comment on function internal.session_json(app.trace_sessions) is 'The API representation of a session.';

create or replace function internal.session_by_key(workspace_id text, project_id text, trace_id text)
returns setof app.trace_sessions
language sql stable rows 1
as $$
    -- One session by its key, read by (workspace_id, trace_id) and checked for the project behind a
    -- fence, as lookups by id are. Named in full, the key ties with a project's newest-first index
    -- while a table has no statistics, and that index reads the whole project to find one session.
    -- Inlined into the caller (no SET clause), where RLS applies as to the caller's own query.
    select x.*
    from (
        select s.*
        from app.trace_sessions as s
        where s.workspace_id = session_by_key.workspace_id and s.trace_id = session_by_key.trace_id
        offset 0
    ) as x
    where x.project_id = session_by_key.project_id
$$;
comment on function internal.session_by_key(text, text, text) is
'The session (workspace_id, project_id, trace_id), found by its (workspace_id, trace_id) index whatever the statistics.';

create or replace function internal.visible_session(trace_id text, project_id text) returns app.trace_sessions
language plpgsql stable
set search_path = ''
as $$
declare
    found app.trace_sessions[];
begin
    -- The explicit visibility filter is the check: writers call this as the owner, and Supabase's
    -- service_role bypasses RLS. Found by (workspace, id) first, then checked
    -- (internal.visible_workspace_ids says why).
    select array_agg(x.s)
    into found
    from (
        select s
        from app.trace_sessions as s
        where s.workspace_id = any(internal.visible_workspace_ids()) and s.trace_id = visible_session.trace_id
        offset 0
    ) as x
    where
        (visible_session.project_id is null or (x.s).project_id = visible_session.project_id)
        and ((x.s).workspace_id, (x.s).project_id) in (select * from internal.visible_projects());
    if found is null then
        raise exception using errcode = 'AD404', hint = 'trace_not_found',
            message = format('trace %s not found', visible_session.trace_id);
    end if;
    if cardinality(found) > 1 then
        raise exception using errcode = 'AD409', hint = 'ambiguous_trace_id',
            message = format('trace id %s names sessions in several projects; pass project_id', visible_session.trace_id);
    end if;
    return found[1];
end
$$;
comment on function internal.visible_session(text, text) is
'The caller''s session by id: 404 if invisible, 409 if the id is ambiguous across its projects.';

create or replace function internal.find_session(
    trace_id text, project_id text, for_write boolean
) returns app.trace_sessions
language plpgsql volatile
set search_path = ''
as $$
declare
    found app.trace_sessions := internal.visible_session(find_session.trace_id, find_session.project_id);
    locked app.trace_sessions;
begin
    if not for_write then
        return found;
    end if;
    perform internal.require_writable_project(found.workspace_id, found.project_id);
    select s.* into strict locked
    from app.trace_sessions as s
    where
        s.workspace_id = found.workspace_id
        and s.project_id = found.project_id
        and s.trace_id = found.trace_id
    for update;
    return locked;
end
$$;
comment on function internal.find_session(text, text, boolean) is
'For the writing api functions: the caller''s session (internal.visible_session), checked writable and locked.';

create or replace function internal.take_positions(workspace_id text, n integer) returns bigint
language plpgsql volatile
set search_path = ''
as $$
-- plpgsql, not sql: a sql function with a SET clause is planned again on every call, and with the
-- counter's RLS policies that planning cost more than the update itself. The row exists from the
-- workspace's first message on, so the update is the path taken; the insert runs once.
declare
    taken bigint;
begin
    -- Called as late as possible in the writing transaction: the row lock serialises commits per workspace.
    update app.stream_counters as c
    set last_position = c.last_position + take_positions.n
    where c.workspace_id = take_positions.workspace_id
    returning c.last_position - take_positions.n + 1 into taken;
    if taken is null then
        insert into app.stream_counters as c (workspace_id, last_position)
        values (take_positions.workspace_id, take_positions.n)
        on conflict on constraint stream_counters_pkey do update set last_position = c.last_position + excluded.last_position
        returning c.last_position - take_positions.n + 1 into taken;
    end if;
    return taken;
end
$$;
comment on function internal.take_positions(text, integer) is
'Takes n consecutive stream positions of a workspace and returns the first.';

create or replace function internal.notify_stream(workspace_id text, head bigint) returns void
language plpgsql volatile
set search_path = ''
as $$
begin
    -- plpgsql so that its plan is cached (see take_positions).
    perform pg_notify(
        'agentdeck_stream', json_build_object('workspace_id', notify_stream.workspace_id, 'position', notify_stream.head)::text
    );
end
$$;
comment on function internal.notify_stream(text, bigint) is 'Wakes stream listeners (delivered on commit).';

create or replace function api.create_trace(body jsonb) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    target_project text := body ->> 'project_id';
    target_workspace text;
    new_id text := coalesce(body ->> 'id', 'trace_' || replace(gen_random_uuid()::text, '-', ''));
    body_hash bytea := sha256(convert_to((body - 'project_id')::text, 'UTF8'));
    created app.trace_sessions;
    first_position bigint;
begin
    perform internal.require_identity();
    perform internal.record_key_use();
    if internal.request_role() = 'agentdeck_key' then
        select v.workspace_id, v.project_id into target_workspace, target_project
        from internal.visible_projects() as v
        where target_project is null or v.project_id = target_project;
        if target_workspace is null then
            raise exception using errcode = 'AD403', hint = 'project_mismatch',
                message = 'an API key may only create sessions in its own project';
        end if;
    else
        if target_project is null then
            raise exception using errcode = 'AD422', hint = 'validation_error',
                message = 'project_id is required with this credential',
                detail = '[{"loc": ["project_id"], "msg": "required"}]';
        end if;
        select w.workspace_id into target_workspace
        from internal.writable_projects() as w
        where w.project_id = target_project;
        if target_workspace is null then
            raise exception using errcode = 'AD403', hint = 'project_forbidden',
                message = format('project %s is not writable with this credential', target_project);
        end if;
    end if;

    insert into app.trace_sessions as s (
        workspace_id, project_id, trace_id, name, agent, environment, tags, metadata, started_at, create_hash
    )
    values (
        target_workspace, target_project, new_id, body ->> 'name', body -> 'agent', body ->> 'environment',
        coalesce(array(select jsonb_array_elements_text(body -> 'tags')), '{}'),
        coalesce(body -> 'metadata', '{}'), coalesce((body ->> 'started_at')::timestamptz, clock_timestamp()),
        body_hash
    )
    on conflict on constraint trace_sessions_pkey do nothing
    returning * into created;

    if created.trace_id is null then
        select * into strict created
        from app.trace_sessions as s
        where s.workspace_id = target_workspace and s.project_id = target_project and s.trace_id = new_id;
        if created.create_hash <> body_hash then
            raise exception using errcode = 'AD409', hint = 'trace_conflict',
                message = format('trace %s already exists with a different body', new_id);
        end if;
        return jsonb_build_object('created', false, 'session', internal.session_json(created));
    end if;

    if created.metadata ? 'regression_run_id' then
        -- CI re-running a task after a fix: the session joins its regression run (regression_runs.sql).
        perform internal.join_regression_run(target_workspace, target_project, new_id);
    end if;
    first_position := internal.take_positions(target_workspace, 1);
    insert into app.stream_messages (workspace_id, position, message_count, kind, project_id, trace_id, payload)
    values (
        target_workspace, first_position, 1, 'session.updated', target_project, new_id,
        internal.session_json(created)
    );
    perform internal.notify_stream(target_workspace, first_position);
    return jsonb_build_object('created', true, 'session', internal.session_json(created));
end
$$;
comment on function api.create_trace(jsonb) is
'POST /api/traces: creates a session, or returns the existing one for a retried create with the same body.';

create or replace function internal.delete_session_events() returns trigger
language plpgsql volatile
set search_path = ''
as $$
begin
    -- What the foreign key's on delete cascade did, once per statement (0012 dropped the key).
    delete from app.events as e
    using deleted_sessions as d
    where e.workspace_id = d.workspace_id and e.project_id = d.project_id and e.trace_id = d.trace_id;
    return null;
end
$$;
comment on function internal.delete_session_events() is
'Deletes the events of deleted sessions (the cascade of the events-to-session reference).';
drop trigger if exists trace_sessions_delete_events on app.trace_sessions;
create trigger trace_sessions_delete_events after delete on app.trace_sessions
referencing old table as deleted_sessions
for each statement execute function internal.delete_session_events();
comment on trigger trace_sessions_delete_events on app.trace_sessions is
'Events go with their session (replaces a per-row foreign key check on every appended event).';

revoke all on function internal.session_json(app.trace_sessions), internal.visible_session(text, text),
internal.session_by_key(text, text, text), internal.find_session(text, text, boolean), internal.take_positions(text, integer),
internal.notify_stream(text, bigint), api.create_trace(jsonb), internal.delete_session_events() from public;
-- The writers are security definer: they check the credential themselves (find_session, the
-- writable projects) and write as the owner. Locking sessions, positions and wake-ups are theirs alone.
grant execute on function internal.session_json(app.trace_sessions), internal.visible_session(text, text),
internal.session_by_key(text, text, text), api.create_trace(jsonb) to authenticated, agentdeck_key, service_role;
