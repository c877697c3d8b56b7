-- Trace sessions and their events: create and append (ordering and idempotency in one call per batch).

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

create or replace function internal.find_session(
    trace_id text, project_id text, for_write boolean
) returns app.trace_sessions
language plpgsql volatile
set search_path = ''
as $$
declare
    found app.trace_sessions[];
    locked app.trace_sessions;
begin
    -- The explicit visibility filter repeats RLS on purpose: Supabase's service_role bypasses RLS.
    select array_agg(s)
    into found
    from app.trace_sessions as s
    where
        s.trace_id = find_session.trace_id
        and (find_session.project_id is null or s.project_id = find_session.project_id)
        and (s.workspace_id, s.project_id) in (select * from internal.visible_projects());
    if found is null then
        raise exception using errcode = 'AD404', hint = 'trace_not_found',
            message = format('trace %s not found', find_session.trace_id);
    end if;
    if cardinality(found) > 1 then
        raise exception using errcode = 'AD409', hint = 'ambiguous_trace_id',
            message = format('trace id %s names sessions in several projects; pass project_id', find_session.trace_id);
    end if;
    if not for_write then
        return found[1];
    end if;
    if (found[1].workspace_id, found[1].project_id) not in (select * from internal.writable_projects()) then
        raise exception using errcode = 'AD403', hint = 'read_only', message = 'this credential may not write here';
    end if;
    select s.* into strict locked
    from app.trace_sessions as s
    where
        s.workspace_id = found[1].workspace_id
        and s.project_id = found[1].project_id
        and s.trace_id = found[1].trace_id
    for update;
    return locked;
end
$$;
comment on function internal.find_session(text, text, boolean) is
'The caller''s session by id (404 if invisible, 409 if ambiguous); for writes, checked writable and locked.';

create or replace function internal.take_positions(workspace_id text, n integer) returns bigint
language sql volatile
set search_path = ''
as $$
    -- Called as late as possible in the writing transaction: the row lock serialises commits per workspace.
    insert into app.stream_counters as c (workspace_id, last_position)
    values (take_positions.workspace_id, take_positions.n)
    on conflict (workspace_id) do update set last_position = c.last_position + excluded.last_position
    returning last_position - take_positions.n + 1
$$;
comment on function internal.take_positions(text, integer) is
'Takes n consecutive stream positions of a workspace and returns the first.';

create or replace function internal.notify_stream(workspace_id text, head bigint) returns void
language sql volatile
set search_path = ''
as $$
    select pg_notify('agentdeck_stream', json_build_object('workspace_id', workspace_id, 'position', head)::text)
$$;
comment on function internal.notify_stream(text, bigint) is 'Wakes stream listeners (delivered on commit).';

create or replace function api.create_trace(body jsonb) returns jsonb
language plpgsql volatile
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
    if internal.claim('role') = 'agentdeck_key' then
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

create or replace function api.append_events(trace_id text, project_id text, events jsonb) returns jsonb
language plpgsql volatile
set search_path = ''
as $$
-- One call per batch. `events` holds the schema-valid events, each with its request `index`;
-- they are classified in that order against what is stored and what came earlier in the batch.
declare
    s app.trace_sessions;
    r record;
    code text;
    running_max bigint;
    ended boolean;
    ended_now boolean := false;
    outcomes text[] := '{}';
    hashes bytea[] := '{}';
    acc_seq bigint[] := '{}';
    acc_key text[] := '{}';
    acc_type text[] := '{}';
    acc_name text[] := '{}';
    acc_payload jsonb[] := '{}';
    acc_parent bigint[] := '{}';
    acc_ts timestamptz[] := '{}';
    acc_hash bytea[] := '{}';
    rejected jsonb[] := '{}';
    duplicates integer := 0;
    new_errors integer := 0;
    accepted integer;
    first_position bigint;
begin
    perform internal.require_identity();
    s := internal.find_session(append_events.trace_id, append_events.project_id, true);
    running_max := coalesce(s.last_seq, -1);
    ended := s.status <> 'running';

    for r in
        with batch as materialized (
            select
                x.ordinality::integer as position_in_batch,
                x.value as e,
                coalesce(x.value ->> 'idempotency_key', s.trace_id || ':' || (x.value ->> 'seq')) as key,
                (x.value ->> 'seq')::bigint as seq
            from jsonb_array_elements(append_events.events) with ordinality as x
        )
        select
            b.position_in_batch as i,
            b.e,
            b.key,
            b.seq,
            sha256(convert_to((b.e - 'index' - 'idempotency_key')::text, 'UTF8')) as hash,
            min(b.position_in_batch) over (partition by b.key) as first_with_key,
            min(b.position_in_batch) over (partition by b.seq) as first_with_seq,
            by_key.content_hash as stored_hash,
            by_seq.idempotency_key as stored_key_of_seq,
            -- An artifact event must name, by id and path, an artifact recorded for this very session.
            (b.e ->> 'type' = 'artifact' and art.artifact_id is null) as artifact_unknown
        from batch as b
        -- Lateral probes with limit 1: one index lookup per input event, never a scan of the session.
        left join lateral (
            select e.content_hash
            from app.events as e
            where
                e.workspace_id = s.workspace_id
                and e.project_id = s.project_id
                and e.trace_id = s.trace_id
                and e.idempotency_key = b.key
            limit 1
        ) as by_key on true
        left join lateral (
            select e.idempotency_key
            from app.events as e
            where
                e.workspace_id = s.workspace_id
                and e.project_id = s.project_id
                and e.trace_id = s.trace_id
                and e.seq = b.seq
                and b.seq <= s.last_seq
            limit 1
        ) as by_seq on true
        left join lateral (
            select a.artifact_id
            from app.artifacts as a
            where
                b.e ->> 'type' = 'artifact'
                and a.workspace_id = s.workspace_id
                and a.artifact_id = b.e -> 'payload' ->> 'artifact_id'
                and a.project_id = s.project_id
                and a.trace_id = s.trace_id
                and a.storage_path = b.e -> 'payload' ->> 'storage_path'
        ) as art on true
        order by b.position_in_batch
    loop
        if r.stored_hash is not null then
            code := case when r.stored_hash = r.hash then 'duplicate' else 'idempotency_conflict' end;
        elsif r.first_with_key < r.i then
            -- The key came earlier in this batch: the same event again shares its fate.
            code := case
                when hashes[r.first_with_key] <> r.hash then 'idempotency_conflict'
                when outcomes[r.first_with_key] in ('accepted', 'duplicate') then 'duplicate'
                else outcomes[r.first_with_key]
            end;
        elsif r.stored_key_of_seq is not null then
            code := 'seq_conflict';
        elsif r.first_with_seq < r.i and outcomes[r.first_with_seq] = 'accepted' then
            code := 'seq_conflict';
        elsif ended then
            code := 'session_ended';
        elsif r.seq <= running_max then
            code := 'seq_not_monotonic';
        elsif r.artifact_unknown then
            code := 'unknown_artifact';
        else
            code := 'accepted';
            running_max := r.seq;
            acc_seq := acc_seq || r.seq;
            acc_key := acc_key || r.key;
            acc_type := acc_type || (r.e ->> 'type');
            acc_name := acc_name || (r.e ->> 'name');
            acc_payload := acc_payload || coalesce(r.e -> 'payload', '{}');
            acc_parent := acc_parent || (r.e ->> 'parent_seq')::bigint;
            acc_ts := acc_ts || (r.e ->> 'ts')::timestamptz;
            acc_hash := acc_hash || r.hash;
            if r.e ->> 'type' = 'error' or (r.e ->> 'type' = 'tool.result' and r.e -> 'payload' ->> 'status' = 'error') then
                new_errors := new_errors + 1;
            end if;
            if r.e ->> 'type' = 'session.end' then
                ended := true;
                ended_now := true;
                s.status := coalesce(r.e -> 'payload' ->> 'outcome', 'success');
            end if;
        end if;
        outcomes[r.i] := code;
        hashes[r.i] := r.hash;
        if code = 'duplicate' then
            duplicates := duplicates + 1;
        elsif code <> 'accepted' then
            rejected := rejected || jsonb_build_object(
                'index', (r.e ->> 'index')::integer,
                'idempotency_key', r.key,
                'code', code,
                'reason', case code
                    when 'seq_not_monotonic' then 'seq must be monotonic for this session'
                    when 'idempotency_conflict' then 'idempotency key already used with different content'
                    when 'seq_conflict' then 'seq already stored under another idempotency key'
                    when 'session_ended' then 'session has ended'
                    when 'unknown_artifact' then 'artifact_id and storage_path must name an artifact of this session'
                end
            );
        end if;
    end loop;

    accepted := cardinality(acc_seq);
    if accepted > 0 then
        insert into app.events (
            workspace_id, project_id, trace_id, seq, idempotency_key, type, name, payload, parent_seq, client_ts,
            content_hash
        )
        select s.workspace_id, s.project_id, s.trace_id, u.*
        from unnest(acc_seq, acc_key, acc_type, acc_name, acc_payload, acc_parent, acc_ts, acc_hash) as u;
        if ended_now then
            -- Queue the automatic analysis (api/worker.py) before taking positions, which comes last.
            perform internal.enqueue_analysis(s.workspace_id, s.project_id, s.trace_id);
        end if;

        first_position := internal.take_positions(s.workspace_id, accepted + ended_now::integer);
        insert into app.stream_messages (workspace_id, position, message_count, kind, project_id, trace_id, event_seqs)
        values (s.workspace_id, first_position, accepted, 'trace.event', s.project_id, s.trace_id, acc_seq);

        update app.trace_sessions as t
        set
            last_seq = running_max,
            event_count = t.event_count + accepted,
            error_count = t.error_count + new_errors,
            status = s.status,
            ended_at = case when ended_now then clock_timestamp() else t.ended_at end,
            updated_at = clock_timestamp()
        where t.workspace_id = s.workspace_id and t.project_id = s.project_id and t.trace_id = s.trace_id
        returning * into s;

        if ended_now then
            insert into app.stream_messages (workspace_id, position, message_count, kind, project_id, trace_id, payload)
            values (
                s.workspace_id, first_position + accepted, 1, 'session.updated', s.project_id, s.trace_id,
                internal.session_json(s)
            );
        end if;
        perform internal.notify_stream(s.workspace_id, first_position + accepted + ended_now::integer - 1);
    end if;

    return jsonb_build_object(
        'accepted', accepted,
        'duplicates', duplicates,
        'rejected', to_jsonb(rejected),
        'first_position', first_position
    );
end
$$;
comment on function api.append_events(text, text, jsonb) is
'POST /api/traces/{id}/events: classifies a batch in order, stores the accepted events in one insert, positions them.';

revoke all on function internal.session_json(app.trace_sessions), internal.find_session(text, text, boolean),
internal.take_positions(text, integer), internal.notify_stream(text, bigint), api.create_trace(jsonb),
api.append_events(text, text, jsonb) from public;
grant execute on function internal.session_json(app.trace_sessions), internal.find_session(text, text, boolean),
internal.take_positions(text, integer), internal.notify_stream(text, bigint), api.create_trace(jsonb),
api.append_events(text, text, jsonb) to authenticated, agentdeck_key, service_role;
