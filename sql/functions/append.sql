-- Appending events: ordering and idempotency in one call per batch (DESIGN.md "Ingest").

create or replace function internal.legacy_content_hash(e jsonb) returns bytea
language sql immutable
set search_path = ''
as $$
    -- Events stored before 0012 (and SQL callers that send no "hash") carry this hash of the jsonb
    -- text; the API now hashes its canonical JSON instead (api/event_types.py event_for_sql).
    select sha256(convert_to((e - 'index' - 'idempotency_key' - 'hash')::text, 'UTF8'))
$$;
comment on function internal.legacy_content_hash(jsonb) is
'The pre-0012 content hash of an event (sha256 of its jsonb text), still recognised for replays.';

create or replace function api.append_events(trace_id text, project_id text, events jsonb) returns jsonb
language plpgsql volatile
set search_path = ''
as $$
-- One call per batch. `events` holds the schema-valid events, each with its request `index` and
-- the sha256 of its canonical content (`hash`, hex); they are classified in that order against
-- what is stored and what came earlier in the batch. A batch of new events in order (the common
-- case) takes the fast path: one aggregate over the batch, one probe of its keys, one insert.
declare
    s app.trace_sessions;
    r record;
    code text;
    running_max bigint;
    ended boolean;
    ended_now boolean := false;
    end_outcome text;
    fast boolean;
    outcomes text[] := '{}';
    hashes bytea[] := '{}';
    acc_seq bigint[];
    acc_key text[];
    acc_type text[];
    acc_name text[];
    acc_payload jsonb[];
    acc_parent bigint[];
    acc_ts timestamptz[];
    acc_hash bytea[];
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

    -- Fast path: seqs strictly increasing above the last one, keys distinct, no artifact event, a
    -- session.end only last, the session running, and (below) no key stored yet. Then every event
    -- is accepted, exactly as the classification would decide.
    select
        not ended and count(*) > 0 and count(distinct b.key) = count(*) and bool_and(
            b.seq > coalesce(b.previous_seq, running_max)
            and b.type <> 'artifact'
            and (b.type <> 'session.end' or b.ord = b.total)
        ),
        array_agg(b.seq order by b.ord),
        array_agg(b.key order by b.ord),
        array_agg(b.type order by b.ord),
        array_agg(b.name order by b.ord),
        array_agg(coalesce(b.payload, '{}') order by b.ord),
        array_agg(b.parent_seq order by b.ord),
        array_agg(b.ts order by b.ord),
        array_agg(coalesce(decode(b.hash, 'hex'), internal.legacy_content_hash(b.e)) order by b.ord),
        count(*) filter (where b.type = 'error' or (b.type = 'tool.result' and b.payload ->> 'status' = 'error')),
        bool_or(b.type = 'session.end'),
        max(coalesce(b.payload ->> 'outcome', 'success')) filter (where b.type = 'session.end')
    into
        fast, acc_seq, acc_key, acc_type, acc_name, acc_payload, acc_parent, acc_ts, acc_hash, new_errors,
        ended_now, end_outcome
    from (
        select
            x.*,
            coalesce(x.idempotency_key, s.trace_id || ':' || x.seq) as key,
            lag(x.seq) over (order by x.ord) as previous_seq,
            count(*) over () as total,
            case when x.hash is null then append_events.events -> (x.ord::integer - 1) end as e
        from rows from (jsonb_to_recordset(append_events.events) as (
            seq bigint, idempotency_key text, type text, name text, ts timestamptz, payload jsonb,
            parent_seq bigint, hash text
        )) with ordinality as x (seq, idempotency_key, type, name, ts, payload, parent_seq, hash, ord)
    ) as b;
    fast := coalesce(fast, false);  -- a null seq (only from direct SQL callers) takes the classification
    if fast then
        -- Under the session's row lock no other writer adds keys to it. One index lookup per key
        -- (lateral limit 1), never a scan of the session's events.
        fast := not exists (
            select
            from unnest(acc_key) as k (key)
            cross join lateral (
                select
                from app.events as e
                where
                    e.workspace_id = s.workspace_id
                    and e.idempotency_key = k.key
                    and e.project_id = s.project_id
                    and e.trace_id = s.trace_id
                limit 1
            ) as stored
        );
    end if;
    if fast then
        running_max := acc_seq[cardinality(acc_seq)];
        if ended_now then
            s.status := end_outcome;
        end if;
    else
        ended_now := false;
        new_errors := 0;
        acc_seq := '{}';
        acc_key := '{}';
        acc_type := '{}';
        acc_name := '{}';
        acc_payload := '{}';
        acc_parent := '{}';
        acc_ts := '{}';
        acc_hash := '{}';
    end if;

    for r in
        with batch as materialized (
            select
                x.ordinality::integer as position_in_batch,
                x.value as e,
                coalesce(x.value ->> 'idempotency_key', s.trace_id || ':' || (x.value ->> 'seq')) as key,
                (x.value ->> 'seq')::bigint as seq
            from jsonb_array_elements(append_events.events) with ordinality as x
            where not fast
        )
        select
            b.position_in_batch as i,
            b.e,
            b.key,
            b.seq,
            coalesce(decode(b.e ->> 'hash', 'hex'), internal.legacy_content_hash(b.e)) as hash,
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
            -- A twin stored before 0012 carries the legacy hash of the same content.
            code := case
                when r.stored_hash in (r.hash, internal.legacy_content_hash(r.e)) then 'duplicate'
                else 'idempotency_conflict'
            end;
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

revoke all on function internal.legacy_content_hash(jsonb), api.append_events(text, text, jsonb) from public;
grant execute on function internal.legacy_content_hash(jsonb), api.append_events(text, text, jsonb)
to authenticated, agentdeck_key, service_role;
