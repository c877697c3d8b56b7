-- Appending events: ordering and idempotency in one call per batch (DESIGN.md "Ingest").

create or replace function internal.legacy_content_hash(
    seq bigint, type text, name text, client_ts timestamptz, payload jsonb, parent_seq bigint
) returns bytea
language sql immutable
set search_path = ''
as $$
    -- Events stored before 0012 carry this hash: sha256 of the jsonb text of the event the API sent
    -- then (ts spelt as Python's isoformat in UTC). The API now hashes its own canonical JSON
    -- (api/event_types.py); replays of older events are still recognised by this one.
    select sha256(convert_to(jsonb_build_object(
        'seq', seq, 'type', type, 'name', name, 'payload', payload, 'parent_seq', parent_seq,
        'ts', to_char(client_ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
        || case when extract(microseconds from client_ts)::bigint % 1000000 <> 0
            then to_char(client_ts at time zone 'UTC', '.US') else '' end
        || '+00:00'
    )::text, 'UTF8'))
$$;
comment on function internal.legacy_content_hash(bigint, text, text, timestamptz, jsonb, bigint) is
'The pre-0012 content hash of an event (sha256 of its jsonb text), still recognised for replays.';

create or replace function api.append_events(
    trace_id text, project_id text, indexes integer[], seqs bigint[], keys text[], types text[], names text[],
    client_ts timestamptz[], payloads text[], parent_seqs bigint[], hashes bytea[]
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
-- One call per batch, one array per field (the schema-valid events in request order: their request
-- index, seq, key (null: the default), ..., payload as JSON text, and the sha256 of the canonical
-- content, which replays are recognised by). A null array stands for a null in every event: the
-- API sends keys, names, timestamps and parents so when no event has one. Classified in request
-- order against what is stored and what came earlier in the batch. A batch of new events in order
-- (the common case) takes the fast path: a few array tests and one insert straight from the arrays.
declare
    s app.trace_sessions;
    r record;
    code text;
    n integer := cardinality(append_events.seqs);
    running_max bigint;
    ended boolean;
    ended_now boolean := false;
    fast boolean;
    outcomes text[] := '{}';
    acc_ord bigint[] := '{}';
    acc_seq bigint[] := '{}';
    event_keys text[];
    rejected jsonb[] := '{}';
    duplicates integer := 0;
    new_errors integer := 0;
    accepted integer;
    first_position bigint;
begin
    perform internal.require_identity();
    perform internal.record_key_use();
    s := internal.find_session(append_events.trace_id, append_events.project_id, true);
    running_max := coalesce(s.last_seq, -1);
    ended := s.status <> 'running';

    -- Fast path: the session running, seqs strictly increasing above the last one, no artifact
    -- event (it needs its artifact looked up) and a session.end only last. Then every event is
    -- accepted, exactly as the classification below would decide, unless a key is repeated or
    -- already stored: the key index refuses the insert, which is undone, and the batch is classified.
    fast := not ended and n > 0
        and array_position(append_events.types, 'artifact') is null
        and coalesce(array_position(append_events.types, 'session.end'), n) = n
        and (
            select bool_and(u.seq > u.previous)
            from unnest(append_events.seqs, running_max || append_events.seqs[1:n - 1]) as u (seq, previous)
        );
    if fast then
        begin
            with inserted as (
                insert into app.events (
                    workspace_id, project_id, trace_id, seq, idempotency_key, type, name, payload, parent_seq,
                    client_ts, content_hash
                )
                select
                    s.workspace_id, s.project_id, s.trace_id, u.seq, coalesce(u.key, s.trace_id || ':' || u.seq),
                    u.type, u.name, coalesce(u.payload::jsonb, '{}'), u.parent_seq, u.ts, u.hash
                from unnest(
                    append_events.seqs, append_events.keys, append_events.types, append_events.names,
                    append_events.payloads, append_events.parent_seqs, append_events.client_ts, append_events.hashes
                ) as u (seq, key, type, name, payload, parent_seq, ts, hash)
                returning type = 'error' or (type = 'tool.result' and payload ->> 'status' = 'error') as is_error
            )
            select count(*) filter (where i.is_error) into new_errors from inserted as i;
        exception when unique_violation then
            fast := false;
            new_errors := 0;
        end;
    end if;
    if fast then
        acc_seq := append_events.seqs;
        running_max := acc_seq[n];
        if append_events.types[n] = 'session.end' then
            ended_now := true;
            s.status := coalesce(append_events.payloads[n]::jsonb ->> 'outcome', 'success');
        end if;
    end if;

    -- Otherwise the classification, event by event.
    if not fast then
        event_keys := array(
            select coalesce(k.key, s.trace_id || ':' || k.seq)
            from unnest(append_events.keys, append_events.seqs) with ordinality as k (key, seq, ord)
            order by k.ord
        );
        for r in
            with batch as materialized (
                select
                    u.*,
                    u.payload_text::jsonb as payload
                from unnest(
                    append_events.indexes, append_events.seqs, event_keys, append_events.types,
                    append_events.names, append_events.client_ts, append_events.payloads, append_events.parent_seqs,
                    append_events.hashes
                ) with ordinality as u (index, seq, event_key, type, name, ts, payload_text, parent_seq, hash, ord)
            )
            select
                b.*,
                min(b.ord) over (partition by b.event_key) as first_with_key,
                min(b.ord) over (partition by b.seq) as first_with_seq,
                by_key.content_hash as stored_hash,
                by_seq.idempotency_key as stored_key_of_seq,
                -- An artifact event must name, by id and path, an artifact recorded for this very session.
                (b.type = 'artifact' and art.artifact_id is null) as artifact_unknown
            from batch as b
            -- Lateral probes with limit 1: one index lookup per input event, never a scan of the session.
            left join lateral (
                select e.content_hash
                from app.events as e
                where
                    e.workspace_id = s.workspace_id
                    and e.project_id = s.project_id
                    and e.trace_id = s.trace_id
                    and e.idempotency_key = b.event_key
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
                    b.type = 'artifact'
                    and a.workspace_id = s.workspace_id
                    and a.artifact_id = b.payload ->> 'artifact_id'
                    and a.project_id = s.project_id
                    and a.trace_id = s.trace_id
                    and a.storage_path = b.payload ->> 'storage_path'
            ) as art on true
            order by b.ord
        loop
            if r.stored_hash is not null then
                -- A twin stored before 0012 carries the legacy hash of the same content.
                code := case
                    when r.stored_hash = r.hash then 'duplicate'
                    when r.stored_hash = internal.legacy_content_hash(r.seq, r.type, r.name, r.ts, r.payload, r.parent_seq)
                        then 'duplicate'
                    else 'idempotency_conflict'
                end;
            elsif r.first_with_key < r.ord then
                -- The key came earlier in this batch: the same event again shares its fate.
                code := case
                    when append_events.hashes[r.first_with_key] <> r.hash then 'idempotency_conflict'
                    when outcomes[r.first_with_key] in ('accepted', 'duplicate') then 'duplicate'
                    else outcomes[r.first_with_key]
                end;
            elsif r.stored_key_of_seq is not null then
                code := 'seq_conflict';
            elsif r.first_with_seq < r.ord and outcomes[r.first_with_seq] = 'accepted' then
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
                acc_ord := acc_ord || r.ord;
                acc_seq := acc_seq || r.seq;
                if r.type = 'error' or (r.type = 'tool.result' and r.payload ->> 'status' = 'error') then
                    new_errors := new_errors + 1;
                end if;
                if r.type = 'session.end' then
                    ended := true;
                    ended_now := true;
                    s.status := coalesce(r.payload ->> 'outcome', 'success');
                end if;
            end if;
            outcomes[r.ord] := code;
            if code = 'duplicate' then
                duplicates := duplicates + 1;
            elsif code <> 'accepted' then
                rejected := rejected || jsonb_build_object(
                    'index', r.index,
                    'idempotency_key', r.event_key,
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
    end if;

    accepted := cardinality(acc_seq);
    if accepted > 0 then
        if not fast then
            insert into app.events (
                workspace_id, project_id, trace_id, seq, idempotency_key, type, name, payload, parent_seq, client_ts,
                content_hash
            )
            select
                s.workspace_id, s.project_id, s.trace_id, u.seq, u.key, u.type, u.name,
                coalesce(u.payload::jsonb, '{}'), u.parent_seq, u.ts, u.hash
            from unnest(
                append_events.seqs, event_keys, append_events.types, append_events.names, append_events.payloads,
                append_events.parent_seqs, append_events.client_ts, append_events.hashes
            ) with ordinality as u (seq, key, type, name, payload, parent_seq, ts, hash, ord)
            where u.ord = any(acc_ord);
        end if;
        if ended_now then
            -- Queue the automatic analysis (api/worker.py) before taking positions, which comes last.
            perform internal.enqueue_analysis(s.workspace_id, s.project_id, s.trace_id);
        end if;
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

        -- The workspace's counter stays locked from here to COMMIT, so every writer of the
        -- workspace waits: only the stream rows and NOTIFY come after it.
        first_position := internal.take_positions(s.workspace_id, accepted + ended_now::integer);
        insert into app.stream_messages (workspace_id, position, message_count, kind, project_id, trace_id, event_seqs)
        values (s.workspace_id, first_position, accepted, 'trace.event', s.project_id, s.trace_id, acc_seq);

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
comment on function api.append_events(
    text, text, integer[], bigint[], text[], text[], text[], timestamptz[], text[], bigint[], bytea[]
) is
'POST /api/traces/{id}/events: classifies a batch in order, stores the accepted events in one insert, positions them.';

create or replace function api.append_events(trace_id text, project_id text, events jsonb) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
-- The same call for SQL clients (psql, the pgTAP tests): events as a JSON array of objects with
-- their `index`; the content hash is the legacy SQL one unless an event carries `hash` (hex).
-- Definer like every writer; the array form it calls makes every check.
begin
    perform internal.require_identity();
    return (select api.append_events(
        append_events.trace_id, append_events.project_id,
        coalesce(array_agg((e.value ->> 'index')::integer order by e.ord), '{}'),
        coalesce(array_agg((e.value ->> 'seq')::bigint order by e.ord), '{}'),
        coalesce(array_agg(e.value ->> 'idempotency_key' order by e.ord), '{}'),
        coalesce(array_agg(e.value ->> 'type' order by e.ord), '{}'),
        coalesce(array_agg(e.value ->> 'name' order by e.ord), '{}'),
        coalesce(array_agg((e.value ->> 'ts')::timestamptz order by e.ord), '{}'),
        coalesce(array_agg((e.value -> 'payload')::text order by e.ord), '{}'),
        coalesce(array_agg((e.value ->> 'parent_seq')::bigint order by e.ord), '{}'),
        coalesce(array_agg(coalesce(decode(e.value ->> 'hash', 'hex'), internal.legacy_content_hash(
            (e.value ->> 'seq')::bigint, e.value ->> 'type', e.value ->> 'name', (e.value ->> 'ts')::timestamptz,
            coalesce(e.value -> 'payload', '{}'), (e.value ->> 'parent_seq')::bigint
        )) order by e.ord), '{}')
    )
    from jsonb_array_elements(append_events.events) with ordinality as e (value, ord));
end
$$;
comment on function api.append_events(text, text, jsonb) is
'api.append_events for SQL clients: the batch as a JSON array of events (each with its request index).';

revoke all on function internal.legacy_content_hash(bigint, text, text, timestamptz, jsonb, bigint),
api.append_events(text, text, integer[], bigint[], text[], text[], text[], timestamptz[], text[], bigint[], bytea[]),
api.append_events(text, text, jsonb) from public;
grant execute on function internal.legacy_content_hash(bigint, text, text, timestamptz, jsonb, bigint),
api.append_events(text, text, integer[], bigint[], text[], text[], text[], timestamptz[], text[], bigint[], bytea[]),
api.append_events(text, text, jsonb) to authenticated, agentdeck_key, service_role;
