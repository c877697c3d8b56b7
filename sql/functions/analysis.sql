-- Storing and reading detector results, and the queue that analyses sessions when they end.

create or replace function internal.analysis_json(a app.analyses) returns jsonb
language sql stable
set search_path = ''
as $$
    select jsonb_build_object(
        'session_id', a.trace_id,
        'project_id', a.project_id,
        'detector_version', a.detector_version,
        'input_digest', a.input_digest,
        'labels', a.labels,
        'critical_step', a.critical_step,
        'verdict', a.verdict,
        'source', a.source,
        'analyzed_at', a.analyzed_at,
        'stored', true
    )
$$;
comment on function internal.analysis_json(app.analyses) is 'The API representation of a stored analysis.';

create or replace function api.store_analysis(trace_id text, project_id text, result jsonb, source text)
returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
-- The one write path for results: POST …/analyze (source 'analyze'), the worker ('worker') and
-- PUT …/analysis ('service'). Storing needs write permission on the project (an API key of it, a
-- member who is not a viewer, the service): a viewer's analyze is computed and returned, never
-- stored (docs/database.md). Results written by the workflow (worker, PUT) need the service role.
declare
    s app.trace_sessions;
    stored app.analyses;
    previous jsonb;
    message jsonb;
begin
    perform internal.require_identity();
    perform internal.record_key_use();
    if store_analysis.source in ('worker', 'service') and internal.request_role() is distinct from 'service_role' then
        raise exception using errcode = 'AD403', hint = 'service_only',
            message = 'only the service credential may store workflow analyses';
    end if;
    s := internal.visible_session(store_analysis.trace_id, store_analysis.project_id);
    if (s.workspace_id, s.project_id) not in (select w.workspace_id, w.project_id from internal.writable_projects() as w)
        then
        -- A viewer may run the detectors (POST analyze) but writes nothing: the result comes back unstored.
        return jsonb_build_object(
            'session_id', s.trace_id,
            'project_id', s.project_id,
            'detector_version', result ->> 'detector_version',
            'input_digest', result ->> 'input_digest',
            'labels', result -> 'labels',
            'critical_step', result -> 'critical_step',
            'verdict', result ->> 'verdict',
            'source', store_analysis.source,
            'analyzed_at', clock_timestamp(),
            'stored', false
        );
    end if;
    -- Checked writable and locked: re-analyses of one session queue here.
    s := internal.find_session(store_analysis.trace_id, store_analysis.project_id, true);
    if store_analysis.source = 'service' then
        select internal.analysis_json(a) into previous
        from app.analyses as a
        where a.workspace_id = s.workspace_id and a.project_id = s.project_id and a.trace_id = s.trace_id
        for update;  -- the audited "before" is what this write replaces
    end if;
    insert into app.analyses as a (
        workspace_id, project_id, trace_id, detector_version, input_digest, labels, critical_step, verdict, source
    )
    values (
        s.workspace_id, s.project_id, s.trace_id, result ->> 'detector_version', result ->> 'input_digest',
        result -> 'labels', nullif(result -> 'critical_step', 'null'), result ->> 'verdict', store_analysis.source
    )
    on conflict on constraint analyses_pkey do update
        set
            detector_version = excluded.detector_version,
            input_digest = excluded.input_digest,
            labels = excluded.labels,
            critical_step = excluded.critical_step,
            verdict = excluded.verdict,
            source = excluded.source,
            analyzed_at = clock_timestamp()
    returning * into stored;
    message := internal.analysis_json(stored);
    if store_analysis.source = 'service' then
        perform internal.write_audit(
            s.workspace_id, s.project_id, 'analysis.stored', 'analysis', s.trace_id, previous, message,
            internal.request_id()
        );
    end if;
    -- Regression runs holding the session become due (regression_runs.sql); runs lock before incidents.
    perform internal.regression_session_analyzed(s.workspace_id, s.project_id, s.trace_id);
    -- Incidents follow the stored result (clustering.sql); it streams incident.updated itself.
    perform internal.cluster_analysis(s.workspace_id, s.project_id, s.trace_id);
    perform internal.emit_stream_message(s.workspace_id, s.project_id, s.trace_id, 'analysis.completed', message);
    return message;
end
$$;
comment on function api.store_analysis(text, text, jsonb, text) is
'Stores a session''s analysis (write permission), clusters it, streams analysis.completed; a viewer''s result is returned unstored; PUT (audited) and worker: service only.';

create or replace function api.get_analysis(trace_id text, project_id text) returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
    s app.trace_sessions;
    found jsonb;
begin
    perform internal.require_identity();
    s := internal.visible_session(get_analysis.trace_id, get_analysis.project_id);
    select internal.analysis_json(a) into found
    from app.analyses as a
    where a.workspace_id = s.workspace_id and a.project_id = s.project_id and a.trace_id = s.trace_id;
    if found is null then
        raise exception using errcode = 'AD404', hint = 'analysis_not_found',
            message = format('trace %s has no stored analysis', s.trace_id);
    end if;
    return found;
end
$$;
comment on function api.get_analysis(text, text) is 'GET /api/traces/{id}/analysis: the stored result, 404 when none.';

create or replace function internal.enqueue_analysis(workspace_id text, project_id text, trace_id text)
returns void
language sql volatile security definer
set search_path = ''
as $$
    -- Called by api.append_events when a session.end is accepted; the queue is not the caller's to touch.
    insert into app.analysis_jobs as j (workspace_id, project_id, trace_id)
    select v.workspace_id, v.project_id, enqueue_analysis.trace_id
    from internal.writable_projects() as v
    where v.workspace_id = enqueue_analysis.workspace_id and v.project_id = enqueue_analysis.project_id
    on conflict on constraint analysis_jobs_pkey do update
        set status = 'queued', attempts = 0, run_after = now(), lease_until = null, last_error = null,
        updated_at = now()
$$;
comment on function internal.enqueue_analysis(text, text, text) is
'Queues the automatic analysis of an ended session (only in a project the caller may write to).';

create or replace function internal.claim_analysis_job(lease_seconds integer)
returns table (workspace_id text, project_id text, trace_id text, attempts integer)
language sql volatile security definer
set search_path = ''
as $$
    -- SKIP LOCKED: concurrent workers never take the same job; a lease that ran out (a dead
    -- worker) makes the job due again, so nothing is analysed twice at once and nothing is lost.
    update app.analysis_jobs as j
    set status = 'running', attempts = j.attempts + 1, lease_until = now() + make_interval(secs => lease_seconds),
        updated_at = now()
    from (
        select q.workspace_id, q.project_id, q.trace_id
        from app.analysis_jobs as q
        where
            (q.status = 'queued' and q.run_after <= now())
            or (q.status = 'running' and q.lease_until < now())
        order by q.run_after
        limit 1
        for update skip locked
    ) as due
    where j.workspace_id = due.workspace_id and j.project_id = due.project_id and j.trace_id = due.trace_id
    returning j.workspace_id, j.project_id, j.trace_id, j.attempts
$$;
comment on function internal.claim_analysis_job(integer) is
'Takes the oldest due analysis job (queued, or running with an expired lease) for a worker.';

create or replace function internal.finish_analysis_job(
    workspace_id text, project_id text, trace_id text, error text, max_attempts integer
) returns text
language sql volatile security definer
set search_path = ''
as $$
    update app.analysis_jobs as j
    set
        status = case
            when finish_analysis_job.error is null then 'done'
            when j.attempts >= finish_analysis_job.max_attempts then 'failed'
            else 'queued'
        end,
        -- Exponential backoff: 2, 4, 8, … seconds, capped at five minutes.
        run_after = now() + make_interval(secs => least(300, power(2, j.attempts))),
        lease_until = null,
        last_error = finish_analysis_job.error,
        updated_at = now()
    where
        j.workspace_id = finish_analysis_job.workspace_id
        and j.project_id = finish_analysis_job.project_id
        and j.trace_id = finish_analysis_job.trace_id
    returning j.status
$$;
comment on function internal.finish_analysis_job(text, text, text, text, integer) is
'Marks a job done, or schedules its retry with backoff, or fails it after max_attempts.';

revoke all on function internal.analysis_json(app.analyses), api.store_analysis(text, text, jsonb, text),
api.get_analysis(text, text), internal.enqueue_analysis(text, text, text), internal.claim_analysis_job(integer),
internal.finish_analysis_job(text, text, text, text, integer) from public;
grant execute on function internal.analysis_json(app.analyses), api.store_analysis(text, text, jsonb, text),
api.get_analysis(text, text) to authenticated, agentdeck_key, service_role;
-- internal.enqueue_analysis is the owner's: api.append_events (security definer) calls it.
-- The worker's own connection (the pool login role) takes and finishes jobs across workspaces.
grant execute on function internal.claim_analysis_job(integer),
internal.finish_analysis_job(text, text, text, text, integer) to agentdeck_api;
