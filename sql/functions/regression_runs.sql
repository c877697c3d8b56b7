-- Regression runs through the API: POST /api/incidents/{id}/regression-runs, GET one, GET an
-- incident's runs, and after-sessions joining when they are created. Verdicts are in
-- regression_verdicts.sql, settling in regression_settling.sql; docs/regression-runs.md explains the rules.

create or replace function internal.start_regression_run(
    incident_id text, body jsonb, detector_version text, default_deadline_seconds integer
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
-- The body of api.create_regression_run. Definer, so that no request role holds a write grant on
-- runs (a run row written by hand could name any fingerprint); every read below therefore filters
-- by the caller's projects explicitly. Every id is resolved in the incident's project (404
-- otherwise) before anything is written.
declare
    inc app.incidents;
    before_ids text[];
    after_ids text[] := array(select jsonb_array_elements_text(coalesce(body -> 'after_session_ids', '[]')));
    unknown text;
    by_task boolean;
    task_count integer;
    created app.regression_runs;
    announced jsonb;
begin
    perform internal.require_identity();
    inc := internal.visible_incident(start_regression_run.incident_id);
    perform internal.require_visible_project(inc.workspace_id, inc.project_id, true);
    if body ->> 'fix_run_id' is not null and not exists (
        select from app.fix_runs as f
        where
            f.workspace_id = inc.workspace_id
            and f.fix_run_id = body ->> 'fix_run_id'
            and f.incident_id = inc.incident_id
    ) then
        raise exception using errcode = 'AD422', hint = 'unknown_fix_run',
            message = format('incident %s has no fix run %s', inc.incident_id, body ->> 'fix_run_id');
    end if;
    if body ? 'before_session_ids' then
        before_ids := array(select jsonb_array_elements_text(body -> 'before_session_ids'));
    else
        before_ids := array(
            select k.trace_id
            from app.incident_sessions as k
            where
                k.workspace_id = inc.workspace_id
                and k.incident_id = inc.incident_id
                -- Re-runs that still fail link to the incident too: they are never its "before".
                and k.trace_id <> all(after_ids)
                -- Probed per session through its own runs (a scalar subquery, not an anti join: as
                -- one, the planner read every after-session of the workspace for each session).
                and (
                    select true
                    from app.regression_run_sessions as m
                    inner join app.regression_runs as r on m.workspace_id = r.workspace_id and m.run_id = r.run_id
                    where
                        m.workspace_id = k.workspace_id
                        and m.project_id = k.project_id
                        and m.trace_id = k.trace_id
                        and m.side = 'after'
                        and r.incident_id = inc.incident_id
                    limit 1
                ) is null
            order by k.seen_at, k.trace_id
            limit 500
        );
    end if;
    if cardinality(before_ids) = 0 then
        raise exception using errcode = 'AD422', hint = 'no_before_sessions',
            message = format('incident %s has no sessions to compare against; give before_session_ids', inc.incident_id);
    end if;
    select u.id into unknown
    from unnest(before_ids || after_ids) as u (id)
    group by u.id
    having count(*) > 1
    limit 1;
    if unknown is not null then
        raise exception using errcode = 'AD422', hint = 'duplicate_session',
            message = format('session %s is given more than once', unknown);
    end if;
    -- Each id is one probe of its session's key: as an anti join, the planner compared every id
    -- with every session of the project.
    select u.id into unknown
    from unnest(before_ids || after_ids) with ordinality as u (id, n)
    left join lateral internal.session_by_key(inc.workspace_id, inc.project_id, u.id) as s on true
    where s.trace_id is null
    order by u.n
    limit 1;
    if unknown is not null then
        raise exception using errcode = 'AD404', hint = 'trace_not_found',
            message = format('trace %s not found in project %s', unknown, inc.project_id);
    end if;

    select bool_and(internal.task_key_of(s.metadata) <> ''), count(distinct internal.task_key_of(s.metadata))
    into by_task, task_count
    from app.trace_sessions as s
    where s.workspace_id = inc.workspace_id and s.project_id = inc.project_id and s.trace_id = any(before_ids);
    if not by_task then
        task_count := cardinality(before_ids);
    end if;
    if (body ->> 'expected_after')::integer < cardinality(after_ids) then
        raise exception using errcode = 'AD422', hint = 'validation_error',
            message = format('expected_after %s is fewer than the %s after_session_ids given', body ->> 'expected_after',
                cardinality(after_ids));
    end if;

    insert into app.regression_runs (
        workspace_id, run_id, project_id, incident_id, fingerprint, name, pairing, detector_version, expected_after,
        resolve_on_pass, fix_run_id, deadline_at, due_at
    )
    values (
        inc.workspace_id, 'rr_' || replace(gen_random_uuid()::text, '-', ''), inc.project_id, inc.incident_id,
        inc.fingerprint, body ->> 'name', case when by_task then 'task_key' else 'order' end,
        start_regression_run.detector_version,
        coalesce((body ->> 'expected_after')::integer, greatest(cardinality(after_ids), task_count)),
        coalesce((body ->> 'resolve_on_pass')::boolean, false), body ->> 'fix_run_id',
        now() + make_interval(secs => coalesce((body ->> 'deadline_seconds')::integer, default_deadline_seconds)),
        now()
    )
    returning * into created;
    insert into app.regression_run_sessions (workspace_id, run_id, project_id, trace_id, side, task, ordinal)
    select
        created.workspace_id, created.run_id, created.project_id, u.id, u.side,
        case when by_task then internal.task_key_of(s.metadata) else '#' || u.ordinal end, u.ordinal
    from (
        select b.id, 'before' as side, b.ordinal from unnest(before_ids) with ordinality as b (id, ordinal)
        union all
        select a.id, 'after', a.ordinal from unnest(after_ids) with ordinality as a (id, ordinal)
    ) as u
    -- Each session probed by its key, not a hash of the project's sessions.
    cross join lateral internal.session_by_key(created.workspace_id, created.project_id, u.id) as s;

    -- Same rules on both sides: what is not analysed with this detector version (an after-session
    -- that ended: since it ended) is queued for the worker, whose result makes the run due.
    perform internal.enqueue_analysis(s.workspace_id, s.project_id, s.trace_id)
    from app.regression_run_sessions as m
    inner join app.trace_sessions as s
        on m.workspace_id = s.workspace_id and m.project_id = s.project_id and m.trace_id = s.trace_id
    left join app.analyses as a
        on m.workspace_id = a.workspace_id and m.project_id = a.project_id and m.trace_id = a.trace_id
    where
        m.workspace_id = created.workspace_id
        and m.run_id = created.run_id
        and (m.side = 'before' or s.status <> 'running')
        and (
            a.detector_version is distinct from created.detector_version
            or (m.side = 'after' and a.analyzed_at < s.ended_at)
        );

    announced := internal.announce_regression_run(
        created.workspace_id, created.run_id, 'regression_run.created', null
    );
    -- Its sessions may all be analysed already: settle now rather than on the worker's next tick.
    return coalesce(internal.settle_regression_run(created.workspace_id, created.run_id), announced);
end
$$;
comment on function internal.start_regression_run(text, jsonb, text, integer) is
'Creates a pending run over the incident''s (or the given) sessions, queues re-analyses, audits, streams, settles if complete.';

create or replace function api.create_regression_run(
    incident_id text, body jsonb, detector_version text, default_deadline_seconds integer
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
-- POST /api/incidents/{id}/regression-runs; the body is shape-checked by the API. Definer like every
-- writer: internal.start_regression_run makes the identity, visibility and write checks.
begin
    perform internal.require_identity();
    return internal.start_regression_run(
        create_regression_run.incident_id, create_regression_run.body, create_regression_run.detector_version,
        create_regression_run.default_deadline_seconds
    );
end
$$;
comment on function api.create_regression_run(text, jsonb, text, integer) is
'POST /api/incidents/{id}/regression-runs: a pending run over the incident''s (or the given) sessions; audited, streamed.';

create or replace function internal.join_regression_run(workspace_id text, project_id text, trace_id text)
returns void
language plpgsql volatile security definer
set search_path = ''
as $$
-- Called by api.create_trace for a new session whose metadata names a run: it joins as the run's
-- next after-session. A run that is not the session's project's is a 422 (nothing is created); a
-- run that has settled keeps its verdicts and the session stays on its own.
declare
    s app.trace_sessions;
    r app.regression_runs;
    next_ordinal integer;
begin
    if (join_regression_run.workspace_id, join_regression_run.project_id)
        not in (select * from internal.writable_projects()) then
        raise exception using errcode = '42501',
            message = format('project %s is not writable with this credential', join_regression_run.project_id);
    end if;
    select x.* into strict s
    from app.trace_sessions as x
    where
        x.workspace_id = join_regression_run.workspace_id
        and x.project_id = join_regression_run.project_id
        and x.trace_id = join_regression_run.trace_id;
    select x.* into r
    from app.regression_runs as x
    where
        x.workspace_id = s.workspace_id
        and x.project_id = s.project_id
        and x.run_id = s.metadata ->> 'regression_run_id'
    for update;
    if not found then
        raise exception using errcode = 'AD422', hint = 'unknown_regression_run',
            message = format('metadata.regression_run_id %s names no regression run of project %s',
                left(s.metadata ->> 'regression_run_id', 80), s.project_id),
            detail = '[{"loc": ["metadata", "regression_run_id"], "msg": "no such regression run in this project"}]';
    end if;
    if r.status <> 'pending' then
        return;
    end if;
    select coalesce(max(m.ordinal), 0) + 1 into next_ordinal
    from app.regression_run_sessions as m
    where m.workspace_id = r.workspace_id and m.run_id = r.run_id and m.side = 'after';
    insert into app.regression_run_sessions (workspace_id, run_id, project_id, trace_id, side, task, ordinal)
    values (
        r.workspace_id, r.run_id, r.project_id, s.trace_id, 'after',
        case when r.pairing = 'task_key' then internal.task_key_of(s.metadata) else '#' || next_ordinal end,
        next_ordinal
    )
    on conflict on constraint regression_run_sessions_pkey do nothing;
end
$$;
comment on function internal.join_regression_run(text, text, text) is
'Adds a session to the pending run its metadata.regression_run_id names (422 when no run of its project has that id).';

create or replace function api.get_regression_run(run_id text) returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
    r app.regression_runs;
begin
    perform internal.require_identity();
    -- By (workspace, id), then the project checked (internal.visible_workspace_ids says why).
    select x.* into r
    from (
        select rr.*
        from app.regression_runs as rr
        where rr.workspace_id = any(internal.visible_workspace_ids()) and rr.run_id = get_regression_run.run_id
        offset 0
    ) as x
    where (x.workspace_id, x.project_id) in (select * from internal.visible_projects());
    if not found then
        raise exception using errcode = 'AD404', hint = 'regression_run_not_found',
            message = format('regression run %s not found', get_regression_run.run_id);
    end if;
    return internal.regression_run_json(r);
end
$$;
comment on function api.get_regression_run(text) is 'GET /api/regression-runs/{id}: the run with its pairs and summary.';

create or replace function api.list_regression_runs(incident_id text, filters jsonb) returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
    inc app.incidents;
    max_rows integer := (filters ->> 'limit')::integer;
    after jsonb := internal.decode_cursor(filters ->> 'cursor', 'created_at', array['run_id']);
    page jsonb;
begin
    perform internal.require_identity();
    inc := internal.visible_incident(list_regression_runs.incident_id);
    select coalesce(jsonb_agg(internal.regression_run_json(p.r) order by (p.r).created_at desc, (p.r).run_id desc), '[]')
    into page
    from (
        select r
        from app.regression_runs as r
        where
            r.workspace_id = inc.workspace_id
            and r.incident_id = inc.incident_id
            and (
                after is null
                or (r.created_at, r.run_id) < ((after ->> 'created_at')::timestamptz, after ->> 'run_id')
            )
        order by r.created_at desc, r.run_id desc
        limit max_rows
    ) as p;
    return jsonb_build_object(
        'regression_runs', page,
        'next_cursor', case when jsonb_array_length(page) = max_rows then internal.encode_cursor(jsonb_build_object(
            'created_at', page -> -1 -> 'created_at', 'run_id', page -> -1 -> 'id'
        )) end
    );
end
$$;
comment on function api.list_regression_runs(text, jsonb) is
'GET /api/incidents/{id}/regression-runs: the incident''s runs, newest first, keyset-paginated by cursor.';

revoke all on function internal.start_regression_run(text, jsonb, text, integer),
api.create_regression_run(text, jsonb, text, integer),
internal.join_regression_run(text, text, text), api.get_regression_run(text), api.list_regression_runs(text, jsonb)
from public;
-- Starting and joining runs are the definers' (create_regression_run, create_trace): no request role runs them.
grant execute on function api.create_regression_run(text, jsonb, text, integer),
api.get_regression_run(text), api.list_regression_runs(text, jsonb)
to authenticated, agentdeck_key, service_role;
