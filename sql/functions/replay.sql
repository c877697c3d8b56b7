-- Reading sessions and events back: the console's replay.

create or replace function internal.require_visible_filters(workspace_id text, project_id text) returns void
language plpgsql stable
set search_path = ''
as $$
begin
    -- Filters narrow what is visible; naming something outside the credential is a 403, not an empty list.
    if workspace_id is not null and workspace_id not in (select internal.visible_workspaces()) then
        raise exception using errcode = 'AD403', hint = 'workspace_forbidden',
            message = format('workspace %s is not visible with this credential', workspace_id);
    end if;
    if project_id is not null and project_id not in (select v.project_id from internal.visible_projects() as v) then
        raise exception using errcode = 'AD403', hint = 'project_forbidden',
            message = format('project %s is not visible with this credential', project_id);
    end if;
end
$$;
comment on function internal.require_visible_filters(text, text) is
'Raises AD403 when a workspace_id or project_id filter names something the credential cannot see.';

create or replace function internal.session_has_facet(
    workspace_id text, project_id text, trace_id text, facet text, facet_value text
) returns boolean
language sql stable
as $$
    select exists (
        select from app.session_facets as f
        where
            f.workspace_id = session_has_facet.workspace_id and f.project_id = session_has_facet.project_id
            and f.trace_id = session_has_facet.trace_id and f.facet = session_has_facet.facet
            and f.value = session_has_facet.facet_value
    )
$$;
comment on function internal.session_has_facet(text, text, text, text, text) is
'Whether the session has this tag, label, verdict or incident (app.session_facets).';

create or replace function internal.in_session_page(
    created_at timestamptz, workspace_id text, project_id text, trace_id text, projects text[], only_project text,
    since timestamptz, until timestamptz, after_created timestamptz, after jsonb
) returns boolean
language sql immutable
as $$
    -- The session list's page bounds, on the columns of the index a branch reads (a session's or a
    -- facet row's): its projects, the time window and the cursor. Inlined like session_matches, so
    -- each becomes a plain comparison the index range serves. The projects are visibility repeated
    -- for Supabase's service_role (it bypasses RLS, and sees one workspace): a constant list, not a
    -- join, so the scan keeps its index order. Of the cursor, the leading bound is a plain
    -- (leakproof) comparison the range starts at; the row comparison then drops the ties already sent.
    select
        in_session_page.project_id = any(in_session_page.projects)
        and (in_session_page.only_project is null or in_session_page.project_id = in_session_page.only_project)
        and (in_session_page.since is null or in_session_page.created_at >= in_session_page.since)
        and (in_session_page.until is null or in_session_page.created_at < in_session_page.until)
        and (in_session_page.after_created is null or in_session_page.created_at <= in_session_page.after_created)
        and (
            in_session_page.after is null
            or (
                in_session_page.created_at, in_session_page.workspace_id, in_session_page.project_id,
                in_session_page.trace_id
            ) < (
                in_session_page.after_created, in_session_page.after ->> 'workspace_id',
                in_session_page.after ->> 'project_id', in_session_page.after ->> 'trace_id'
            )
        )
$$;
comment on function internal.in_session_page(
    timestamptz, text, text, text, text[], text, timestamptz, timestamptz, timestamptz, jsonb
) is 'Whether a row is within the session list''s page: visible project, time window, after the cursor.';

create or replace function internal.session_matches(s app.trace_sessions, filters jsonb) returns boolean
language sql stable
as $$
    -- Every filter of GET /api/sessions but the project, the time bounds and the cursor, which the
    -- list applies to the index it reads. Inlined into the list's query (no sub-select here, so it
    -- can be), where absent filters fold away and the others become plain column comparisons
    -- that the session indexes serve.
    select
        (filters ->> 'session_id' is null or s.trace_id = filters ->> 'session_id')
        and (filters ->> 'status' is null or s.status = filters ->> 'status')
        and (filters ->> 'agent' is null or s.agent_name = filters ->> 'agent')
        and (filters ->> 'environment' is null or s.environment = filters ->> 'environment')
        and (filters ->> 'tag' is null or s.tags @> array[filters ->> 'tag'])
        and (
            filters ->> 'label' is null
            or internal.session_has_facet(s.workspace_id, s.project_id, s.trace_id, 'label', filters ->> 'label')
        )
        and (
            filters ->> 'verdict' is null
            or internal.session_has_facet(s.workspace_id, s.project_id, s.trace_id, 'verdict', filters ->> 'verdict')
        )
        and (
            filters ->> 'incident_id' is null
            or internal.session_has_facet(
                s.workspace_id, s.project_id, s.trace_id, 'incident_id', filters ->> 'incident_id'
            )
        )
        and (
            filters ->> 'q' is null
            or strpos(lower(s.trace_id), lower(filters ->> 'q')) > 0
            or strpos(lower(coalesce(s.name, '')), lower(filters ->> 'q')) > 0
        )
$$;
comment on function internal.session_matches(app.trace_sessions, jsonb) is
'Whether a session passes the session list''s filters (all but project, time bounds and cursor).';

create or replace function api.list_sessions(filters jsonb) returns jsonb
language plpgsql stable
-- Custom plans: the absent filters fold away, so each page is planned for the filters it has and
-- the matching newest-first index (sql/schema/0012, 0016) serves it. A generic plan could use none.
set plan_cache_mode = force_custom_plan
set search_path = ''
as $$
declare
    max_rows integer := (filters ->> 'limit')::integer;
    after jsonb := internal.decode_cursor(
        filters ->> 'cursor', 'created_at', array['workspace_id', 'project_id', 'trace_id']
    );
    after_created timestamptz := (after ->> 'created_at')::timestamptz;
    since timestamptz := (filters ->> 'since')::timestamptz;
    until timestamptz := (filters ->> 'until')::timestamptz;
    -- An incident, label, tag or verdict filter reads app.session_facets newest first (the rarer
    -- kind first); otherwise the sessions' own newest-first index for the filters given.
    facet_name text := case
        when filters ->> 'incident_id' is not null then 'incident_id'
        when filters ->> 'label' is not null then 'label'
        when filters ->> 'tag' is not null then 'tag'
        when filters ->> 'verdict' is not null then 'verdict'
    end;
    workspaces text[];
    projects text[];
    only_project text := filters ->> 'project_id';
    only_workspace text;
    page jsonb;
    last_row jsonb;
begin
    perform internal.require_identity();
    perform internal.require_visible_filters(filters ->> 'workspace_id', filters ->> 'project_id');
    select array_agg(distinct v.workspace_id), array_agg(distinct v.project_id)
    into workspaces, projects
    from internal.visible_projects() as v
    where
        (filters ->> 'workspace_id' is null or v.workspace_id = filters ->> 'workspace_id')
        and (only_project is null or v.project_id = only_project);
    -- One visible project (an API key): read its index, not the workspace's.
    if cardinality(projects) = 1 then
        only_project := projects[1];
    end if;
    -- One visible workspace (most callers): named as a constant, so the planner estimates it from
    -- its own statistics; as the lateral's value it gets the average tenant's, and for a big tenant
    -- chose to read and sort every session of its projects.
    if cardinality(workspaces) = 1 then
        only_workspace := workspaces[1];
    end if;
    select coalesce(jsonb_agg(
        internal.session_json(p.s) || jsonb_build_object(
            -- The row carries its analysis labels (names, in the analysis' deterministic order).
            'labels', coalesce((
                select jsonb_agg(l.value -> 'label')
                from app.analyses as a, jsonb_array_elements(a.labels) as l
                where
                    a.workspace_id = (p.s).workspace_id and a.project_id = (p.s).project_id
                    and a.trace_id = (p.s).trace_id
            ), '[]'),
            'verdict', (
                select a.verdict from app.analyses as a
                where
                    a.workspace_id = (p.s).workspace_id and a.project_id = (p.s).project_id
                    and a.trace_id = (p.s).trace_id
            )
        )
        order by (p.s).created_at desc, (p.s).workspace_id desc, (p.s).project_id desc, (p.s).trace_id desc
    ), '[]')
    into page
    from (
        -- Newest first within each visible workspace (one index range scan each), merged. Of the
        -- two branches, the one the filters do not choose is planned away (custom plans).
        select w.s
        from unnest(workspaces) as ws (workspace_id)
        cross join lateral (
            (
                select s
                from app.trace_sessions as s
                where
                    facet_name is null
                    and s.workspace_id = coalesce(only_workspace, ws.workspace_id)
                    and internal.in_session_page(
                        s.created_at, s.workspace_id, s.project_id, s.trace_id, projects, only_project, since, until,
                        after_created, after
                    )
                    and internal.session_matches(s, filters)
                order by s.created_at desc, s.project_id desc, s.trace_id desc
                limit max_rows
            )
            union all
            (
                select x.s
                from app.session_facets as f
                -- Each facet row's session by its key: behind `offset 0` the planner cannot turn
                -- this into a scan of the sessions joined to the facets, whatever it estimates.
                cross join lateral (
                    select s
                    from app.trace_sessions as s
                    where s.workspace_id = f.workspace_id and s.project_id = f.project_id and s.trace_id = f.trace_id
                    offset 0
                ) as x
                where
                    facet_name is not null
                    and f.workspace_id = coalesce(only_workspace, ws.workspace_id)
                    and f.facet = facet_name
                    and f.value = filters ->> facet_name
                    and internal.in_session_page(
                        f.created_at, f.workspace_id, f.project_id, f.trace_id, projects, only_project, since, until,
                        after_created, after
                    )
                    -- Less the facet read here: checking it again would cost a probe a row.
                    and internal.session_matches(x.s, filters - facet_name)
                order by f.created_at desc, f.project_id desc, f.trace_id desc
                limit max_rows
            )
        ) as w
        order by (w.s).created_at desc, (w.s).workspace_id desc, (w.s).project_id desc, (w.s).trace_id desc
        limit max_rows
    ) as p;
    last_row := page -> -1;
    return jsonb_build_object(
        'sessions', page,
        'next_cursor', case when jsonb_array_length(page) = max_rows then internal.encode_cursor(jsonb_build_object(
            'created_at', last_row -> 'created_at', 'workspace_id', last_row -> 'workspace_id',
            'project_id', last_row -> 'project_id', 'trace_id', last_row -> 'id'
        )) end
    );
end
$$;
comment on function api.list_sessions(jsonb) is
'GET /api/sessions: visible sessions, newest first, filtered, keyset-paginated (after = the last row''s key).';

create or replace function api.list_events(
    trace_id text, project_id text, after_seq bigint, max_events integer, types text[]
) returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
    s app.trace_sessions;
    page jsonb;
    cut_short boolean;
begin
    perform internal.require_identity();
    s := internal.visible_session(list_events.trace_id, list_events.project_id);
    -- A page also ends after 8 MiB of payload (at least one event): large events must not exceed
    -- jsonb's size limit or a reader's memory. next_after_seq then continues from the last event.
    with page_events as materialized (
        select e.seq, e.idempotency_key, e.type, e.name, e.client_ts as ts, e.payload, e.parent_seq, e.received_at
        from app.events as e
        where
            e.workspace_id = s.workspace_id
            and e.project_id = s.project_id
            and e.trace_id = s.trace_id
            and e.seq > coalesce(list_events.after_seq, -1)
            and (list_events.types is null or e.type = any(list_events.types))
        order by e.seq
        limit list_events.max_events
    ),

    -- The page's seq range, and where the batch holding its first seq starts (one backward probe);
    -- materialized, so that the batches' scan below is bounded by both ends in its index.
    bounds as materialized (
        select
            r.hi,
            coalesce((
                select b.first_seq
                from app.stream_messages as b
                where
                    b.workspace_id = s.workspace_id
                    and b.project_id = s.project_id
                    and b.trace_id = s.trace_id
                    and b.kind = 'trace.event'
                    and b.first_seq <= r.lo
                order by b.first_seq desc
                limit 1
            ), r.lo) as first_batch
        from (select min(pe.seq) as lo, max(pe.seq) as hi from page_events as pe) as r
    ),

    -- The page's positions from the batches that cover its seq range, read once in one index range
    -- scan, not one lookup per event. They are kept as one seq -> position object, read by key: a
    -- join here ran as a nested loop over the events whenever the page was estimated small (fresh
    -- statistics), reading the batches again for each event: 7 s for 5,000 events.
    positions as materialized (
        select jsonb_object_agg(u.seq::text, sm.position + u.ord - 1) as by_seq
        from bounds
        cross join lateral (
            -- The fence keeps both ends of the range in the index condition.
            select sm.position, sm.event_seqs
            from app.stream_messages as sm
            where
                sm.workspace_id = s.workspace_id
                and sm.project_id = s.project_id
                and sm.trace_id = s.trace_id
                and sm.kind = 'trace.event'
                and sm.first_seq between bounds.first_batch and bounds.hi
            offset 0
        ) as sm
        cross join lateral unnest(sm.event_seqs) with ordinality as u (seq, ord)
    ),

    -- Materialized, so that only each event's position travels on (sorts below would otherwise
    -- carry the whole object with every event). An event whose stream row was pruned (retention)
    -- reads back with a null position.
    positioned as materialized (
        select page_events.*, (positions.by_seq ->> page_events.seq::text)::bigint as position
        from page_events cross join positions
    )

    select
        coalesce(jsonb_agg(to_jsonb(p) - 'bytes_before' order by p.seq)
            filter (where p.bytes_before < 8388608), '[]'),
        coalesce(bool_or(p.bytes_before >= 8388608), false)
    into page, cut_short
    from (
        -- The window runs over the page only (the limit applies first, in the subquery).
        select
            limited.*,
            coalesce(sum(octet_length(limited.payload::text)) over (
                order by limited.seq rows between unbounded preceding and 1 preceding
            ), 0) as bytes_before
        from positioned as limited
    ) as p;
    return jsonb_build_object(
        'session_id', s.trace_id,
        'events', page,
        'next_after_seq', case
            when cut_short or jsonb_array_length(page) = max_events then page -> -1 -> 'seq'
        end
    );
end
$$;
comment on function api.list_events(text, text, bigint, integer, text[]) is
'GET /api/traces/{id}/events: a page of events in seq order (at most max_events, and 8 MiB of payload), each with its stream position.';


revoke all on function internal.require_visible_filters(text, text), internal.session_has_facet(text, text, text, text, text),
internal.in_session_page(timestamptz, text, text, text, text[], text, timestamptz, timestamptz, timestamptz, jsonb),
internal.session_matches(app.trace_sessions, jsonb),
api.list_sessions(jsonb), api.list_events(text, text, bigint, integer, text[]) from public;
grant execute on function internal.require_visible_filters(text, text), internal.session_has_facet(text, text, text, text, text),
internal.in_session_page(timestamptz, text, text, text, text[], text, timestamptz, timestamptz, timestamptz, jsonb),
internal.session_matches(app.trace_sessions, jsonb),
api.list_sessions(jsonb), api.list_events(text, text, bigint, integer, text[]) to authenticated, agentdeck_key, service_role;
