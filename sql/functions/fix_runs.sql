-- Fix runs (POST /api/incidents/{id}/fix-agent, GET /api/incidents/{id}/fix-runs). A run takes two
-- short transactions: api.start_fix_run checks access and the concurrency limit, records the run
-- and returns what the runners read; api.finish_fix_run stores the outcome, audits and streams it.
-- The runner works between the two, holding no connection. See docs/fix-agent.md.

create or replace function internal.fix_run_json(r app.fix_runs) returns jsonb
language sql immutable
set search_path = ''
as $$
    select jsonb_build_object(
        'fix_run_id', r.fix_run_id,
        'workspace_id', r.workspace_id,
        'project_id', r.project_id,
        'incident_id', r.incident_id,
        'runner', r.runner,
        'status', r.status,
        'plan', r.plan,
        'diff', r.diff,
        'base_sha', r.base_sha,
        'fallback', r.fallback,
        'repository', r.repository,
        'model', r.model,
        'files', r.files,
        'checks', r.checks,
        'timings', r.timings,
        'requested_by', jsonb_build_object('kind', r.actor_kind, 'id', r.actor_id),
        'started_at', r.started_at,
        'finished_at', r.finished_at
    )
$$;
comment on function internal.fix_run_json(app.fix_runs) is 'The API representation of a fix run.';

create or replace function internal.fix_run_summary(r app.fix_runs) returns jsonb
language sql immutable
set search_path = ''
as $$
    select jsonb_build_object(
        'fix_run_id', r.fix_run_id, 'runner', r.runner, 'status', r.status, 'base_sha', r.base_sha,
        'fallback', r.fallback ->> 'label', 'checks', r.checks ->> 'status'
    )
$$;
comment on function internal.fix_run_summary(app.fix_runs) is
'What the audit log and the stream carry of a finished fix run (no plan, no diff).';

create or replace function internal.fix_context(i app.incidents, max_sessions integer, max_events integer)
returns jsonb
language sql stable
set search_path = ''
as $$
    -- The latest sample sessions, each with the finding clustering linked to this incident, its
    -- analysis' critical step and the events around the failing step.
    select coalesce(jsonb_agg(jsonb_build_object(
        'session_id', k.trace_id,
        'critical_step', a.critical_step,
        'finding', f.finding,
        'events', coalesce(ev.events, '[]')
    ) order by k.seen_at desc, k.trace_id desc), '[]')
    from (
        select s.trace_id, s.project_id, s.seen_at, s.critical_seq
        from app.incident_sessions as s
        where s.workspace_id = i.workspace_id and s.incident_id = i.incident_id
        order by s.seen_at desc, s.trace_id desc
        limit max_sessions
    ) as k
    left join app.analyses as a
        on a.workspace_id = i.workspace_id and a.project_id = k.project_id and a.trace_id = k.trace_id
    left join lateral (
        select l.value as finding
        from jsonb_array_elements(a.labels) as l
        where
            -- Clustering linked the session at this critical seq, under this label and signature.
            l.value ->> 'label' = i.label
            and (
                case when jsonb_typeof(l.value -> 'critical_seq') = 'number' then (l.value ->> 'critical_seq')::numeric end
            ) is not distinct from k.critical_seq
            and nullif(l.value #>> '{signature,tool}', '') is not distinct from i.tool
            and nullif(l.value #>> '{signature,error_type}', '') is not distinct from i.error_type
        limit 1
    ) as f on true
    left join lateral (
        select jsonb_agg(jsonb_build_object(
            'seq', e.seq, 'type', e.type, 'name', e.name, 'parent_seq', e.parent_seq, 'payload', e.payload
        ) order by e.seq) as events
        from (
            select x.*
            from app.events as x
            cross join lateral (
                -- Numbers only: a finding from another detector version may lack either.
                select
                    case when jsonb_typeof(f.finding -> 'critical_seq') = 'number'
                        then floor((f.finding ->> 'critical_seq')::numeric)::bigint
                    end as critical_seq,
                    case when jsonb_typeof(f.finding -> 'cause_seq') = 'number'
                        then floor((f.finding ->> 'cause_seq')::numeric)::bigint
                    end as cause_seq
            ) as c
            cross join lateral (
                -- At most ~26 seqs, each a primary-key probe: the cost does not grow with the session.
                select array(
                    select g.seq from generate_series(c.critical_seq - 3, c.critical_seq) as g (seq)
                    union
                    select c.cause_seq
                    union
                    select q.value::bigint
                    from jsonb_array_elements_text(coalesce(f.finding #> '{evidence,seqs}', '[]')) as q
                    where q.value ~ '^[0-9]{1,18}$'
                    union
                    (
                        select first_event.seq
                        from app.events as first_event
                        where
                            first_event.workspace_id = i.workspace_id
                            and first_event.project_id = k.project_id
                            and first_event.trace_id = k.trace_id
                        order by first_event.seq
                        limit 1
                    )
                ) as seqs
            ) as wanted
            where
                x.workspace_id = i.workspace_id
                and x.project_id = k.project_id
                and x.trace_id = k.trace_id
                and x.seq = any(wanted.seqs)
            -- The failing step, its cause and how the session started (what the agent declared)
            -- first, then the evidence nearest to the failing step.
            order by
                x.seq = c.critical_seq desc, x.seq = c.cause_seq desc nulls last,
                x.type = 'session.start' desc, abs(x.seq - coalesce(c.critical_seq, 0)), x.seq
            limit max_events
        ) as e
    ) as ev on true
$$;
comment on function internal.fix_context(app.incidents, integer, integer) is
'What the fix runners read of an incident: its latest sessions, their matching finding and critical events.';

create or replace function api.start_fix_run(
    incident_id text, runner text, max_running integer, budget_ms integer
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
-- Checks before any write: visible (else 404), writable (viewers 403), and fewer than max_running
-- runs in flight in the workspace (else AD429 with the seconds until the oldest one's deadline).
declare
    target app.incidents;
    in_flight integer;
    first_deadline timestamptz;
    started app.fix_runs;
begin
    perform internal.require_identity();
    target := internal.visible_incident(start_fix_run.incident_id);
    perform internal.require_visible_project(target.workspace_id, target.project_id, true);
    -- Serialises the count and the insert of concurrent starts in one workspace.
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('agentdeck.fix_runs:' || target.workspace_id, 0));
    select count(*), min(r.deadline_at) into in_flight, first_deadline
    from app.fix_runs as r
    where r.workspace_id = target.workspace_id and r.status = 'running' and r.deadline_at > clock_timestamp();
    if in_flight >= start_fix_run.max_running then
        raise exception using errcode = 'AD429', hint = 'fix_runs_busy',
            message = format('workspace %s already has %s fix runs in flight', target.workspace_id, in_flight),
            detail = jsonb_build_object(
                'retry_after', greatest(1, ceil(extract(epoch from first_deadline - clock_timestamp())))::integer
            )::text;
    end if;
    insert into app.fix_runs (
        workspace_id, fix_run_id, project_id, incident_id, runner, actor_kind, actor_id, request_id, deadline_at
    )
    values (
        target.workspace_id, 'fix_' || replace(gen_random_uuid()::text, '-', ''), target.project_id, target.incident_id,
        start_fix_run.runner,
        case when internal.request_role() = 'authenticated' then 'user' else 'service' end,
        case when internal.request_role() = 'authenticated' then auth.uid()::text end,
        internal.request_id(), clock_timestamp() + make_interval(secs => start_fix_run.budget_ms / 1000.0)
    )
    returning * into started;
    return jsonb_build_object(
        'fix_run_id', started.fix_run_id,
        'incident', internal.incident_json(target),
        'sessions', internal.fix_context(target, 3, 12)
    );
end
$$;
comment on function api.start_fix_run(text, text, integer, integer) is
'POST …/fix-agent, first step: 404 invisible, 403 read-only, 429 busy; records a running fix run, returns its context.';

create or replace function api.finish_fix_run(fix_run_id text, outcome jsonb) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    finished app.fix_runs;
    target app.incidents;
begin
    perform internal.require_identity();
    update app.fix_runs as r
    set
        status = case when outcome ->> 'diff' is null then 'fallback' else 'completed' end,
        plan = outcome -> 'plan',
        diff = outcome ->> 'diff',
        fallback = nullif(outcome -> 'fallback', 'null'),
        base_sha = outcome ->> 'base_sha',
        repository = outcome ->> 'repository',
        model = outcome ->> 'model',
        files = coalesce(outcome -> 'files', '[]'),
        checks = nullif(outcome -> 'checks', 'null'),
        timings = coalesce(outcome -> 'timings', '{}'),
        finished_at = clock_timestamp()
    where
        r.fix_run_id = finish_fix_run.fix_run_id
        and r.status = 'running'
        and (r.workspace_id, r.project_id) in (select * from internal.writable_projects())
    returning r.* into finished;
    if not found then
        raise exception using errcode = 'AD409', hint = 'fix_run_not_running',
            message = format('fix run %s is not running', finish_fix_run.fix_run_id);
    end if;
    perform internal.write_audit(
        finished.workspace_id, finished.project_id, 'fix_run.completed', 'incident', finished.incident_id,
        null, internal.fix_run_summary(finished), finished.request_id
    );
    select i.* into strict target
    from app.incidents as i
    where i.workspace_id = finished.workspace_id and i.incident_id = finished.incident_id;
    -- Announced as a change of its incident: the stream's kinds stay the four SPEC names.
    perform internal.emit_stream_message(
        finished.workspace_id, finished.project_id, null, 'incident.updated',
        internal.incident_json(target) || jsonb_build_object('fix_run', internal.fix_run_summary(finished))
    );
    return internal.fix_run_json(finished);
end
$$;
comment on function api.finish_fix_run(text, jsonb) is
'POST …/fix-agent, last step: stores the outcome of a running fix run, audit-logs it and streams it.';

create or replace function api.list_fix_runs(incident_id text, filters jsonb) returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
    target app.incidents;
    max_rows integer := coalesce((filters ->> 'limit')::integer, 20);
    after jsonb := internal.decode_cursor(filters ->> 'cursor', 'started_at', array['fix_run_id']);
    page jsonb;
begin
    perform internal.require_identity();
    target := internal.visible_incident(list_fix_runs.incident_id);
    select coalesce(jsonb_agg(internal.fix_run_json(p) order by p.started_at desc, p.fix_run_id desc), '[]')
    into page
    from (
        select r.*
        from app.fix_runs as r
        where
            r.workspace_id = target.workspace_id
            and r.incident_id = target.incident_id
            and (
                after is null
                or (r.started_at, r.fix_run_id) < ((after ->> 'started_at')::timestamptz, after ->> 'fix_run_id')
            )
        order by r.started_at desc, r.fix_run_id desc
        limit max_rows
    ) as p;
    return jsonb_build_object(
        'fix_runs', page,
        'next_cursor', case when jsonb_array_length(page) = max_rows then internal.encode_cursor(jsonb_build_object(
            'started_at', page -> -1 -> 'started_at', 'fix_run_id', page -> -1 -> 'fix_run_id'
        )) end
    );
end
$$;
comment on function api.list_fix_runs(text, jsonb) is
'GET /api/incidents/{id}/fix-runs: the incident''s fix runs, newest first, keyset-paginated (404 invisible).';

revoke all on function internal.fix_run_json(app.fix_runs), internal.fix_run_summary(app.fix_runs),
internal.fix_context(app.incidents, integer, integer),
api.start_fix_run(text, text, integer, integer), api.finish_fix_run(text, jsonb), api.list_fix_runs(text, jsonb)
from public;
grant execute on function internal.fix_run_json(app.fix_runs), api.list_fix_runs(text, jsonb)
to authenticated, agentdeck_key, service_role;
-- API keys may read fix runs but never start one (42501 → 403).
grant execute on function internal.fix_run_summary(app.fix_runs), internal.fix_context(app.incidents, integer, integer),
api.start_fix_run(text, text, integer, integer), api.finish_fix_run(text, jsonb)
to authenticated, service_role;
