-- OpenTelemetry ingest: one call per OTLP export, each trace a session, each through api.append_events.

create or replace function api.ingest_otlp(traces jsonb) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
-- `traces`: [{"session": {create body, metadata.source = "otlp"}, "events": [event without seq, with "parent_key"]}],
-- events already in session order and schema-valid. Seqs are assigned here, under the session's lock:
-- an event whose idempotency key is stored keeps its stored seq (so a re-sent export replays exactly);
-- new events follow the session's last seq in the given order. `parent_key` names the event's parent
-- within the same export and becomes its parent_seq.
declare
    t jsonb;
    s app.trace_sessions;
    numbered jsonb;
    outcome jsonb;
    accepted integer := 0;
    duplicates integer := 0;
    rejected jsonb := '[]';
begin
    perform internal.require_identity();
    perform internal.record_key_use();
    -- Definer like every writer: find_session(…, true) checks the key may write to the session.
    for t in select x.value from jsonb_array_elements(ingest_otlp.traces) as x loop
        begin
            perform api.create_trace(t -> 'session');
        exception when sqlstate 'AD409' then
            -- Created by an earlier export (whose name or agent may differ): carry on, unless the id
            -- names a session created another way.
            null;
        end;
        s := internal.find_session(t -> 'session' ->> 'id', null, true);
        if s.metadata ->> 'source' is distinct from 'otlp' then
            select rejected || coalesce(jsonb_agg(jsonb_build_object(
                'index', e.value -> 'index', 'idempotency_key', e.value -> 'idempotency_key',
                'code', 'trace_conflict', 'reason', 'the trace id names a session not created by OTLP ingest'
            )), '[]')
            into rejected
            from jsonb_array_elements(t -> 'events') as e;
            continue;
        end if;

        with spans as materialized (
            select
                x.value as e,
                x.ordinality as n,
                x.value ->> 'parent_key' as parent_key,
                x.value ->> 'idempotency_key' as key
            from jsonb_array_elements(t -> 'events') with ordinality as x
        ),

        batch as materialized (
            select
                sp.*,
                stored.seq as stored_seq
            from spans as sp
            -- One probe of the key index per span, behind limit 1, by a column of the spans read
            -- first: as a join, or keyed by the JSON expression itself, a session estimated small
            -- was read whole for the lookup (every export of a long OTLP session read all of it).
            left join lateral (
                select ev.seq
                from app.events as ev
                where
                    ev.workspace_id = s.workspace_id
                    and ev.idempotency_key = sp.key
                    and ev.project_id = s.project_id
                    and ev.trace_id = s.trace_id
                limit 1
            ) as stored on true
        ),

        sequenced as materialized (
            select
                b.e,
                b.n,
                b.key,
                b.parent_key,
                coalesce(
                    b.stored_seq,
                    coalesce(s.last_seq, -1) + row_number() over (partition by b.stored_seq is null order by b.n)
                ) as seq
            from batch as b
        )

        select coalesce(jsonb_agg(
            (q.e - 'parent_key') || jsonb_build_object('seq', q.seq, 'parent_seq', p.seq) order by q.n
        ), '[]')
        into numbered
        from sequenced as q
        left join sequenced as p on q.parent_key = p.key;

        outcome := api.append_events(s.trace_id, s.project_id, numbered);
        accepted := accepted + (outcome ->> 'accepted')::integer;
        duplicates := duplicates + (outcome ->> 'duplicates')::integer;
        rejected := rejected || (outcome -> 'rejected');
    end loop;
    return jsonb_build_object('accepted', accepted, 'duplicates', duplicates, 'rejected', rejected);
end
$$;
comment on function api.ingest_otlp(jsonb) is
'POST /v1/traces: creates each trace''s session if new, numbers its events and appends them (one call per export).';

revoke all on function api.ingest_otlp(jsonb) from public;
grant execute on function api.ingest_otlp(jsonb) to agentdeck_key;
