-- Settling regression runs: their JSON, audit and stream announcements, resolve_on_pass, and the
-- worker's claim (FOR UPDATE SKIP LOCKED) of runs made due by an analysis or by their deadline.

create or replace function internal.regression_run_json(r app.regression_runs) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
-- Definer because judging reads the workspace's clustering threshold and analyses as the owner;
-- so the run itself must be one the caller sees.
declare
    judged jsonb;
begin
    if (r.workspace_id, r.project_id) not in (select * from internal.visible_projects()) then
        raise exception using errcode = '42501', message = format('regression run %s is not visible', r.run_id);
    end if;
    -- A settled run shows what it was settled with; a pending one, its verdicts so far.
    judged := coalesce(r.result, internal.regression_evaluation(r, false));
    return jsonb_build_object(
        'id', r.run_id,
        'workspace_id', r.workspace_id,
        'project_id', r.project_id,
        'incident_id', r.incident_id,
        'fingerprint', r.fingerprint,
        'name', r.name,
        'status', r.status,
        'pairing', r.pairing,
        'detector_version', r.detector_version,
        'expected_after', r.expected_after,
        'resolve_on_pass', r.resolve_on_pass,
        'fix_run_id', r.fix_run_id,
        'deadline_at', r.deadline_at,
        'before_session_ids', coalesce((
            select jsonb_agg(m.trace_id order by m.ordinal)
            from app.regression_run_sessions as m
            where m.workspace_id = r.workspace_id and m.run_id = r.run_id and m.side = 'before'
        ), '[]'),
        'after_session_ids', coalesce((
            select jsonb_agg(m.trace_id order by m.ordinal)
            from app.regression_run_sessions as m
            where m.workspace_id = r.workspace_id and m.run_id = r.run_id and m.side = 'after'
        ), '[]'),
        'pairs', judged -> 'pairs',
        'tasks', judged -> 'tasks',
        'summary', judged -> 'summary',
        'created_at', r.created_at,
        'completed_at', r.completed_at,
        'updated_at', r.updated_at
    );
end
$$;
comment on function internal.regression_run_json(app.regression_runs) is
'The API representation of a run: its sessions, pairs, tasks and summary (settled, or so far while pending).';

create or replace function internal.announce_regression_run(
    workspace_id text, run_id text, action text, before jsonb
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
-- Audit row and stream message for a run as it is stored, as the owner (API keys write no audit
-- rows themselves), for the credential that caused it; the caller must be able to write there.
declare
    r app.regression_runs;
    message jsonb;
begin
    if announce_regression_run.action not in ('regression_run.created', 'regression_run.completed') then
        raise exception using errcode = '22023', message = format('%s is not a regression run action', action);
    end if;
    select x.* into strict r
    from app.regression_runs as x
    where x.workspace_id = announce_regression_run.workspace_id and x.run_id = announce_regression_run.run_id;
    if (r.workspace_id, r.project_id) not in (select * from internal.writable_projects()) then
        raise exception using errcode = '42501', message = format('regression run %s is not writable', r.run_id);
    end if;
    message := internal.regression_run_json(r);
    perform internal.write_audit(
        r.workspace_id, r.project_id, announce_regression_run.action, 'regression_run', r.run_id,
        announce_regression_run.before,
        jsonb_build_object(
            'status', r.status, 'incident_id', r.incident_id, 'fix_run_id', r.fix_run_id,
            'summary', message -> 'summary'
        ),
        internal.request_id()
    );
    perform internal.emit_stream_message(r.workspace_id, r.project_id, null, 'regression_run.updated', message);
    return message;
end
$$;
comment on function internal.announce_regression_run(text, text, text, jsonb) is
'Audits a run''s creation or settlement and streams regression_run.updated; returns the run''s JSON.';

create or replace function internal.resolve_incident_for_run(r app.regression_runs) returns void
language plpgsql volatile security definer
set search_path = ''
as $$
-- resolve_on_pass: the incident is resolved the way PATCH resolves it (audited, streamed); a later
-- occurrence reopens it as a regression through clustering, as for any resolved incident.
declare
    existing app.incidents;
    updated app.incidents;
begin
    select i.* into strict existing
    from app.incidents as i
    where i.workspace_id = r.workspace_id and i.incident_id = r.incident_id
    for update;
    if existing.status = 'resolved' then
        return;
    end if;
    update app.incidents as i
    set status = 'resolved', regressed = false, resolved_at = clock_timestamp(), updated_at = clock_timestamp()
    where i.workspace_id = existing.workspace_id and i.incident_id = existing.incident_id
    returning i.* into updated;
    perform internal.write_audit(
        existing.workspace_id, existing.project_id, 'incident.updated', 'incident', existing.incident_id,
        internal.incident_state(existing), internal.incident_state(updated) || jsonb_build_object('regression_run_id', r.run_id),
        internal.request_id()
    );
    perform internal.emit_stream_message(
        updated.workspace_id, updated.project_id, null, 'incident.updated', internal.incident_json(updated)
    );
end
$$;
comment on function internal.resolve_incident_for_run(app.regression_runs) is
'Resolves a passed run''s incident (audited, streamed) unless it is resolved already.';

create or replace function internal.settle_regression_run(workspace_id text, run_id text) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
-- Passes or fails a pending run that is complete, or fails it at its deadline; otherwise it waits
-- (due again at the deadline, or sooner when one of its sessions is analysed). Returns the settled
-- run's JSON, or null when it did not settle now. Runs before incidents in every lock order.
declare
    r app.regression_runs;
    judged jsonb;
begin
    if settle_regression_run.workspace_id not in (select internal.visible_workspaces()) then
        raise exception using errcode = '42501',
            message = format('workspace %s is not visible to this credential', settle_regression_run.workspace_id);
    end if;
    select x.* into r
    from app.regression_runs as x
    where x.workspace_id = settle_regression_run.workspace_id and x.run_id = settle_regression_run.run_id
    for update;
    if not found or r.status <> 'pending' then
        return null;
    end if;
    -- Judging costs a detector-rules pass per session: only once, when the run settles.
    if now() < r.deadline_at and not internal.regression_complete(r) then
        update app.regression_runs as x
        set due_at = x.deadline_at
        where x.workspace_id = r.workspace_id and x.run_id = r.run_id;
        return null;
    end if;
    judged := internal.regression_evaluation(r, true);
    update app.regression_run_sessions as m
    set verdict = p.value ->> 'verdict'
    from jsonb_array_elements(judged -> 'pairs') as p
    where
        m.workspace_id = r.workspace_id
        and m.run_id = r.run_id
        and m.side = 'after'
        and m.trace_id = p.value ->> 'after_session_id';
    update app.regression_runs as x
    set
        status = case when (judged ->> 'passed')::boolean then 'passed' else 'failed' end,
        result = judged - 'passed',
        completed_at = clock_timestamp(),
        updated_at = clock_timestamp()
    where x.workspace_id = r.workspace_id and x.run_id = r.run_id
    returning x.* into r;
    if r.status = 'passed' and r.resolve_on_pass then
        perform internal.resolve_incident_for_run(r);
    end if;
    return internal.announce_regression_run(
        r.workspace_id, r.run_id, 'regression_run.completed', jsonb_build_object('status', 'pending')
    );
end
$$;
comment on function internal.settle_regression_run(text, text) is
'Settles a pending run (passed or failed) when complete or past its deadline; else schedules it for the deadline.';

create or replace function api.settle_regression_run(workspace_id text, run_id text) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
-- The worker settles each claimed run as the service of the run's workspace (api/worker.py).
begin
    perform internal.require_identity();
    if internal.request_role() is distinct from 'service_role' then
        raise exception using errcode = 'AD403', hint = 'service_only', message = 'only the service settles runs';
    end if;
    return internal.settle_regression_run(settle_regression_run.workspace_id, settle_regression_run.run_id);
end
$$;
comment on function api.settle_regression_run(text, text) is
'The worker''s settling of one claimed run, as the service of its workspace (the workspace check is settling''s).';

create or replace function internal.regression_session_analyzed(workspace_id text, project_id text, trace_id text)
returns void
language plpgsql volatile security definer
set search_path = ''
as $$
-- Called by api.store_analysis before clustering (runs before incidents in every lock order). The
-- row lock taken here even on an already due run is what keeps a concurrent settle from missing
-- this analysis: it either waits for this commit or is made due again by it.
begin
    if (regression_session_analyzed.workspace_id, regression_session_analyzed.project_id)
        not in (select * from internal.visible_projects()) then
        raise exception using errcode = '42501', message = format(
            'project %s is not visible to this credential', regression_session_analyzed.project_id
        );
    end if;
    -- A session may be in several runs: lock them in run id order, so two analyses never deadlock.
    update app.regression_runs as r
    set due_at = now()
    where (r.workspace_id, r.run_id) in (
        select x.workspace_id, x.run_id
        from app.regression_run_sessions as m
        inner join app.regression_runs as x on m.workspace_id = x.workspace_id and m.run_id = x.run_id
        where
            m.workspace_id = regression_session_analyzed.workspace_id
            and m.project_id = regression_session_analyzed.project_id
            and m.trace_id = regression_session_analyzed.trace_id
            and x.status = 'pending'
        order by x.run_id
        for update of x
    );
end
$$;
comment on function internal.regression_session_analyzed(text, text, text) is
'Makes the pending runs of a just-analysed session due for the worker.';

create or replace function internal.claim_regression_runs(max_runs integer, lease_seconds integer)
returns table (workspace_id text, run_id text)
language sql volatile security definer
set search_path = ''
as $$
    -- SKIP LOCKED: workers never take the same run; the lease makes a run a dead worker took due again.
    update app.regression_runs as r
    set due_at = now() + make_interval(secs => claim_regression_runs.lease_seconds)
    from (
        select q.workspace_id, q.run_id
        from app.regression_runs as q
        where q.status = 'pending' and q.due_at <= now()
        order by q.due_at
        limit claim_regression_runs.max_runs
        for update skip locked
    ) as due
    where r.workspace_id = due.workspace_id and r.run_id = due.run_id
    returning r.workspace_id, r.run_id
$$;
comment on function internal.claim_regression_runs(integer, integer) is
'Takes up to max_runs pending runs that are due (a session analysed, or the deadline) for a worker to settle.';

revoke all on function internal.regression_run_json(app.regression_runs),
internal.announce_regression_run(text, text, text, jsonb), internal.resolve_incident_for_run(app.regression_runs),
internal.settle_regression_run(text, text), internal.regression_session_analyzed(text, text, text),
internal.claim_regression_runs(integer, integer), api.settle_regression_run(text, text) from public;
-- Reading a run's JSON is anyone's who sees it; announcing, settling and waking runs are the writers'
-- (definers: store_analysis, create_regression_run) and the worker's, which settles as the service below.
grant execute on function internal.regression_run_json(app.regression_runs) to authenticated, agentdeck_key, service_role;
grant execute on function api.settle_regression_run(text, text) to service_role;
-- The worker's own connection (the pool login role) claims runs across workspaces, then settles
-- each as the service of the run's workspace.
grant execute on function internal.claim_regression_runs(integer, integer) to agentdeck_api;
