-- What GET /metrics reads from the database: aggregate counts only, never a tenant's name or id.

create or replace function internal.analysis_queue_depth()
returns table (status text, jobs bigint)
language sql stable security definer
set search_path = ''
as $$
    -- Served by analysis_jobs_ready_idx (queued and running only): the cost follows the queue, not history.
    select j.status, count(*) as jobs
    from app.analysis_jobs as j
    where j.status in ('queued', 'running')
    group by j.status
$$;
comment on function internal.analysis_queue_depth() is
'Analysis jobs waiting or running, across workspaces, for the metrics endpoint (agentdeck_api only).';

revoke all on function internal.analysis_queue_depth() from public;
grant execute on function internal.analysis_queue_depth() to agentdeck_api;
