-- The live stream (GET /api/stream): emitting messages, reading them back after a cursor, retention.
-- Positions come from internal.take_positions (ingest.sql); a trace.event row of app.stream_messages
-- covers [position, position + message_count), one position per accepted event.

create or replace function internal.stream_page(
    workspace_id text, after_position bigint, max_rows integer, only_project text, only_session text
) returns table (stream_position bigint, kind text, project_id text, session_id text, data jsonb)
language sql stable
set search_path = ''
as $$
    -- Security invoker on purpose: as a request role RLS decides what is visible, as the owner
    -- (internal.stream_fetch) everything of the workspace is. Every predicate on a column is a
    -- leakproof comparison on an indexed column, so the index serves it under RLS too; of the three
    -- branches (the workspace's, a project's, a session's rows) only one runs: the others' gates
    -- are one-time filters.
    with batches as (
        (
            select m.*
            from app.stream_messages as m
            where
                stream_page.only_project is null
                and stream_page.only_session is null
                and m.workspace_id = stream_page.workspace_id
                and m.end_position > stream_page.after_position + 1
            order by m.end_position
            -- Every row covers at least one position, so this many rows cover the page.
            limit stream_page.max_rows
        )
        union all
        (
            select m.*
            from app.stream_messages as m
            where
                stream_page.only_session is null
                and m.workspace_id = stream_page.workspace_id
                and m.project_id = stream_page.only_project
                and m.end_position > stream_page.after_position + 1
            order by m.end_position
            limit stream_page.max_rows
        )
        union all
        (
            select m.*
            from app.stream_messages as m
            where
                m.workspace_id = stream_page.workspace_id
                and m.trace_id = stream_page.only_session
                and (stream_page.only_project is null or m.project_id = stream_page.only_project)
                and m.end_position > stream_page.after_position + 1
            order by m.end_position
            limit stream_page.max_rows
        )
    ),

    -- Batches in position order, each with the positions of the page that came before it, so that
    -- only the page's own positions are expanded: a batch of 1,000 events past the page end is not.
    covered as (
        select
            b.*,
            greatest(b.position, stream_page.after_position + 1) as first_needed,
            coalesce(sum(b.end_position - greatest(b.position, stream_page.after_position + 1)) over (
                order by b.end_position rows between unbounded preceding and 1 preceding
            ), 0) as before
        from batches as b
    )

    select
        x.position,
        b.kind,
        b.project_id,
        b.trace_id as session_id,
        jsonb_build_object(
            'position', x.position,
            'kind', b.kind,
            'workspace_id', b.workspace_id,
            'project_id', b.project_id,
            'session_id', b.trace_id,
            case when b.kind = 'trace.event' then 'event' else split_part(b.kind, '.', 1) end,
            x.body
        ) as data
    from covered as b
    cross join lateral (
        select
            b.position + u.ord - 1 as position,
            jsonb_build_object(
                'seq', e.seq,
                'idempotency_key', e.idempotency_key,
                'type', e.type,
                'name', e.name,
                'ts', e.client_ts,
                'payload', e.payload,
                'parent_seq', e.parent_seq,
                'received_at', e.received_at
            ) as body
        from unnest(b.event_seqs) with ordinality as u (seq, ord)
        -- One primary-key probe per seq, behind a fence: as a join, a session estimated small (fresh
        -- statistics) read all of its events once per batch and unnested the batch for each.
        cross join lateral (
            select e.*
            from app.events as e
            where
                e.workspace_id = b.workspace_id
                and e.project_id = b.project_id
                and e.trace_id = b.trace_id
                and e.seq = u.seq
            limit 1
        ) as e
        where
            b.position + u.ord - 1 >= b.first_needed
            and b.position + u.ord - 1 < b.first_needed + stream_page.max_rows - b.before
        union all
        select
            b.position,
            b.payload
        where b.event_seqs is null
    ) as x
    where b.before < stream_page.max_rows and x.position > stream_page.after_position
    order by x.position
    limit stream_page.max_rows
$$;
comment on function internal.stream_page(text, bigint, integer, text, text) is
'Stream messages of a workspace after a position, one row per position, narrowed by project and session.';

create or replace function internal.stream_bounds(workspace_id text)
returns table (head bigint, retained_after bigint)
language sql stable security definer
set search_path = ''
as $$
    -- Definer because stream_counters is readable only by writers; the bounds of a workspace the
    -- credential cannot see come back as nothing.
    select coalesce(max(c.last_position), 0), coalesce(max(c.retained_after), 0)
    from app.stream_counters as c
    where
        c.workspace_id = stream_bounds.workspace_id
        and c.workspace_id in (select internal.visible_workspaces())
$$;
comment on function internal.stream_bounds(text) is
'The stream head and retention watermark of a workspace the credential sees (0 and 0 before any message).';

create or replace function api.stream_authorize(workspace_id text, project_id text)
returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
    target text := stream_authorize.workspace_id;
    candidates text[];
    bounds record;
begin
    perform internal.require_identity();
    perform internal.require_visible_filters(stream_authorize.workspace_id, stream_authorize.project_id);
    if target is null then
        -- Positions are per workspace, so a stream follows exactly one.
        select array_agg(distinct v.workspace_id order by v.workspace_id) into candidates
        from internal.visible_projects() as v
        where stream_authorize.project_id is null or v.project_id = stream_authorize.project_id;
        if candidates is null then
            raise exception using errcode = 'AD403', hint = 'workspace_forbidden',
                message = 'this credential sees no workspace';
        end if;
        if cardinality(candidates) > 1 then
            raise exception using errcode = 'AD400', hint = 'workspace_required',
                message = 'this credential sees several workspaces; name one with workspace_id';
        end if;
        target := candidates[1];
    elsif
        stream_authorize.project_id is not null
        and (target, stream_authorize.project_id) not in (select * from internal.visible_projects())
    then
        raise exception using errcode = 'AD403', hint = 'project_forbidden',
            message = format('project %s is not in workspace %s', stream_authorize.project_id, target);
    end if;
    select * into strict bounds from internal.stream_bounds(target);
    return jsonb_build_object(
        'workspace_id', target,
        -- null: every project of the workspace, also ones created later (members and the service).
        'project_ids', case
            when stream_authorize.project_id is not null then jsonb_build_array(stream_authorize.project_id)
            when internal.request_role() = 'agentdeck_key' then (
                select jsonb_agg(v.project_id order by v.project_id)
                from internal.visible_projects() as v
                where v.workspace_id = target
            )
        end,
        'head', bounds.head,
        'retained_after', bounds.retained_after
    );
end
$$;
comment on function api.stream_authorize(text, text) is
'GET /api/stream at connect: resolves the one workspace followed and the projects visible in it (403 outside).';

create or replace function api.stream_backfill(
    workspace_id text, only_project text, only_session text, after_position bigint, max_rows integer
) returns table (stream_position bigint, kind text, project_id text, session_id text, data jsonb)
language plpgsql stable
set search_path = ''
as $$
declare
    bounds record;
begin
    perform internal.require_identity();
    -- The explicit workspace check is for Supabase's service_role, which bypasses RLS.
    perform internal.require_visible_filters(stream_backfill.workspace_id, stream_backfill.only_project);
    -- The watermark is read in the page's own snapshot: a prune committed after connect cannot
    -- turn into a silent gap. A cursor below it gets one reset row (id: the head) instead of a page.
    select * into strict bounds from internal.stream_bounds(stream_backfill.workspace_id);
    if stream_backfill.after_position < bounds.retained_after then
        return query select
            bounds.head, 'reset'::text, null::text, null::text, jsonb_build_object(
                'reason', 'cursor_expired', 'cursor', stream_backfill.after_position,
                'retained_after', bounds.retained_after, 'head', bounds.head
            );
        return;
    end if;
    return query
    select *
    from internal.stream_page(
        stream_backfill.workspace_id, stream_backfill.after_position, stream_backfill.max_rows,
        stream_backfill.only_project, stream_backfill.only_session
    );
end
$$;
comment on function api.stream_backfill(text, text, text, bigint, integer) is
'GET /api/stream backfill: a page of the visible messages after a position, read under the caller''s RLS, or a reset row for a cursor older than retention.';

create or replace function internal.stream_fetch(workspace_id text, after_position bigint, max_rows integer)
returns table (stream_position bigint, kind text, project_id text, session_id text, data jsonb)
language sql stable security definer
set search_path = ''
as $$
    -- The hub's one read per workspace per wake-up, fanned out in memory to subscribers that each
    -- keep to what their credential was authorised for at connect.
    select * from internal.stream_page(stream_fetch.workspace_id, stream_fetch.after_position, stream_fetch.max_rows,
        null, null)
$$;
comment on function internal.stream_fetch(text, bigint, integer) is
'Every message of a workspace after a position, for the API process''s stream hub (agentdeck_api only).';

create or replace function internal.emit_stream_message(
    workspace_id text, project_id text, trace_id text, kind text, payload jsonb
) returns bigint
language plpgsql volatile security definer
set search_path = ''
as $$
-- Call it as the last write of the transaction: the counter row stays locked until commit.
declare
    taken bigint;
begin
    if emit_stream_message.kind not in (
        'session.updated', 'analysis.completed', 'incident.updated', 'regression_run.updated'
    ) then
        raise exception using errcode = '22023',
            message = format('stream kind %s is not emitted with a payload', emit_stream_message.kind);
    end if;
    -- Only the owner executes this (the writing api functions, after their checks); checked again
    -- here so that no caller can stream into a project its request may not write to.
    perform internal.require_visible_project(emit_stream_message.workspace_id, emit_stream_message.project_id, true);
    taken := internal.take_positions(emit_stream_message.workspace_id, 1);
    insert into app.stream_messages (workspace_id, position, message_count, kind, project_id, trace_id, payload)
    values (
        emit_stream_message.workspace_id, taken, 1, emit_stream_message.kind, emit_stream_message.project_id,
        emit_stream_message.trace_id, emit_stream_message.payload
    );
    perform internal.notify_stream(emit_stream_message.workspace_id, taken);
    return taken;
end
$$;
comment on function internal.emit_stream_message(text, text, text, text, jsonb) is
'Positions, logs and announces one session.updated, analysis.completed or incident.updated message; returns its position.';

create or replace function internal.prune_stream(workspace_id text, keep_after_position bigint) returns bigint
language plpgsql volatile security definer
set search_path = ''
as $$
-- Raises the watermark (it only moves forward, and stops at the head), then deletes the rows it
-- covers: trace.event rows too, so events older than retention read back with a null position.
-- The counter row stays locked until commit, so keep each call's range small (prune_expired_stream).
declare
    watermark bigint;
    removed bigint;
begin
    update app.stream_counters as c
    set retained_after = greatest(c.retained_after, least(prune_stream.keep_after_position, c.last_position))
    where c.workspace_id = prune_stream.workspace_id
    returning c.retained_after into watermark;
    if watermark is null then
        return 0;
    end if;
    delete from app.stream_messages as m
    where
        m.workspace_id = prune_stream.workspace_id
        and m.end_position <= watermark + 1;
    get diagnostics removed = row_count;
    return removed;
end
$$;
comment on function internal.prune_stream(text, bigint) is
'Stops serving stream positions at or below keep_after_position (cursors older get a reset) and deletes their rows.';

create or replace function internal.prune_expired_stream(
    after_workspace text, default_retention interval, max_rows integer
) returns table (workspace_id text, removed bigint)
language plpgsql volatile security definer
set search_path = ''
as $$
-- One step of the worker's retention pass (api/stream/retention.py): the next workspace after
-- after_workspace, at most max_rows of its oldest rows, and only the leading run of them older
-- than its retention (its own, else the default). One workspace per call, so each transaction
-- holds one counter row briefly. A row's created_at is its transaction's start, so the cut is
-- exact to within one transaction's length. No row when no workspace is left.
declare
    w record;
    cut bigint;
begin
    select c.workspace_id, c.retained_after, coalesce(ws.stream_retention, prune_expired_stream.default_retention) as keep
    into w
    from app.stream_counters as c
    inner join app.workspaces as ws on c.workspace_id = ws.workspace_id
    where
        c.workspace_id > prune_expired_stream.after_workspace
        and coalesce(ws.stream_retention, prune_expired_stream.default_retention) is not null
    order by c.workspace_id
    limit 1;
    if w.workspace_id is null then
        return;
    end if;
    select max(run.end_position) filter (where run.leading_expired) - 1 into cut
    from (
        -- The window runs over the limited rows only: one bounded index range scan.
        select
            oldest.end_position,
            bool_and(oldest.created_at < now() - w.keep) over (order by oldest.end_position) as leading_expired
        from (
            select m.end_position, m.created_at
            from app.stream_messages as m
            where m.workspace_id = w.workspace_id and m.end_position > w.retained_after + 1
            order by m.end_position
            limit prune_expired_stream.max_rows
        ) as oldest
    ) as run;
    workspace_id := w.workspace_id;
    removed := case when cut is null then 0 else internal.prune_stream(w.workspace_id, cut) end;
    return next;
end
$$;
comment on function internal.prune_expired_stream(text, interval, integer) is
'Retention, one workspace per call: prunes up to max_rows of its oldest stream rows older than its retention.';

revoke all on function internal.stream_page(text, bigint, integer, text, text), internal.stream_bounds(text),
api.stream_authorize(text, text), api.stream_backfill(text, text, text, bigint, integer),
internal.stream_fetch(text, bigint, integer), internal.emit_stream_message(text, text, text, text, jsonb),
internal.prune_stream(text, bigint), internal.prune_expired_stream(text, interval, integer) from public;
grant execute on function internal.stream_page(text, bigint, integer, text, text), internal.stream_bounds(text),
api.stream_authorize(text, text), api.stream_backfill(text, text, text, bigint, integer)
to authenticated, agentdeck_key, service_role;
-- internal.emit_stream_message and internal.prune_stream stay the owner's: emitting is done by the
-- writing api functions (security definer), pruning by the operator.
-- The hub reads as the pool's login role itself, outside any request role.
grant usage on schema internal to agentdeck_api;
grant execute on function internal.stream_fetch(text, bigint, integer), internal.prune_expired_stream(text, interval, integer)
to agentdeck_api;
