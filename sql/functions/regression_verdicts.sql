-- Judging a regression run: the failures a session shows (its incident links), the
-- verdict per pair and task, and the exact sign test. Pure functions of stored analyses; see
-- docs/regression-runs.md.

create or replace function internal.task_key_of(metadata jsonb) returns text
language sql immutable parallel safe
as $$
    -- Only a non-empty string is a task key; '' pairs with nothing.
    select case when jsonb_typeof(metadata -> 'task_key') = 'string' then left(metadata ->> 'task_key', 200) else '' end
$$;
comment on function internal.task_key_of(jsonb) is 'A session''s metadata.task_key, or '''' when it has none.';

create or replace function internal.sign_test(improved bigint, worsened bigint) returns jsonb
language plpgsql immutable parallel safe
set search_path = ''
as $$
-- Exact two-sided sign test: under "no change" each discordant pair improves or worsens with
-- probability 1/2, so p = min(1, 2 * P(X <= min(b, c))) for X ~ Binomial(b + c, 1/2), in exact numerics.
declare
    n bigint := improved + worsened;
    term numeric := 1;
    tail numeric := 0;
begin
    for k in 0..least(improved, worsened) loop
        tail := tail + term;
        term := term * (n - k) / (k + 1);
    end loop;
    return jsonb_build_object(
        'improved', improved,
        'worsened', worsened,
        'discordant', n,
        'p_value', trim_scale(least(1, 2 * tail / power(2::numeric, n)))
    );
end
$$;
comment on function internal.sign_test(bigint, bigint) is
'Exact two-sided sign test over discordant pairs (before failing → after clean vs before clean → after failing).';

create or replace function internal.regression_members(r app.regression_runs)
returns table (side text, task text, ordinal integer, trace_id text, labels jsonb, ready boolean)
language sql stable
set search_path = ''
as $$
    -- A session counts (is ready) only once analysed with the run's detector version; an
    -- after-session, only once it has ended and been analysed since.
    select
        m.side,
        m.task,
        m.ordinal,
        m.trace_id,
        a.labels,
        coalesce(a.detector_version = r.detector_version and (
            m.side = 'before' or (s.status <> 'running' and a.analyzed_at >= s.ended_at)
        ), false)
    -- Each member's session and analysis probed by key (as joins, the planner hashed every session
    -- and analysis of the project once it held a few tens of thousands).
    from app.regression_run_sessions as m
    cross join lateral internal.session_by_key(m.workspace_id, m.project_id, m.trace_id) as s
    left join lateral (
        select a.labels, a.detector_version, a.analyzed_at
        from app.analyses as a
        where a.workspace_id = m.workspace_id and a.project_id = m.project_id and a.trace_id = m.trace_id
        limit 1
    ) as a on true
    where m.workspace_id = r.workspace_id and m.run_id = r.run_id
$$;
comment on function internal.regression_members(app.regression_runs) is
'The sessions of a run with their stored findings and whether they count yet (analysed with the run''s version).';

create or replace function internal.regression_complete(r app.regression_runs) returns boolean
language sql stable
set search_path = ''
as $$
    -- Cheap (no judging): the worker asks this on every analysis of one of the run's sessions.
    select
        coalesce(bool_and(m.ready), false)
        and count(*) filter (where m.side = 'after') >= r.expected_after
    from internal.regression_members(r) as m
$$;
comment on function internal.regression_complete(app.regression_runs) is
'Whether every session of the run counts and at least expected_after after-sessions joined.';

create or replace function internal.regression_evaluation(r app.regression_runs, final boolean) returns jsonb
language sql stable
set search_path = ''
as $$
    -- A pure function of the run's sessions and their stored analyses: the same analyses give the
    -- same bytes. With `final`, what does not count by now is `missing`.
    with members as (
        select * from internal.regression_members(r)
    ),

    judged as (
        -- A session's failures: the incidents clustering linked it to when its analysis was stored
        -- (so one normalisation, one fingerprint, one threshold), less those whose findings all
        -- carry "recovered": true.
        select
            m.side,
            m.task,
            m.ordinal,
            m.trace_id,
            m.ready,
            case when m.ready then coalesce((
                select array_agg(i.fingerprint order by i.fingerprint)
                from app.incident_sessions as k
                inner join app.incidents as i on k.workspace_id = i.workspace_id and k.incident_id = i.incident_id
                where
                    k.workspace_id = r.workspace_id
                    and k.project_id = r.project_id
                    and k.trace_id = m.trace_id
                    and exists (
                        select
                        from jsonb_array_elements(m.labels) as l
                        where
                            l.value ->> 'label' = i.label
                            and (l.value ->> 'critical_seq')::bigint is not distinct from k.critical_seq
                            and l.value -> 'recovered' is distinct from 'true'::jsonb
                    )
            ), '{}') end as fingerprints
        from members as m
    ),

    before_tasks as (
        select
            b.task,
            min(b.ordinal) as first_ordinal,
            jsonb_agg(b.trace_id order by b.ordinal) as before_session_ids,
            bool_and(b.ready) as ready,
            bool_or(cardinality(b.fingerprints) > 0) as failing
        from judged as b
        where b.side = 'before'
        group by b.task
    ),

    pairs as (
        select
            a.task,
            bt.first_ordinal,
            coalesce(bt.before_session_ids, '[]') as before_session_ids,
            a.trace_id as after_session_id,
            a.ordinal,
            bt.task is not null as matched,
            case when bt.ready then bt.failing end as before_failing,
            case
                when not a.ready then case when final then 'missing' end
                when r.fingerprint = any(a.fingerprints) then 'still_failing'
                when cardinality(a.fingerprints) > 0 then 'new_failure'
                else 'fixed'
            end as verdict
        from judged as a
        left join before_tasks as bt on a.task = bt.task
        where a.side = 'after'
        union all
        select
            bt.task, bt.first_ordinal, bt.before_session_ids, null, null, true,
            case when bt.ready then bt.failing end, case when final then 'missing' end
        from before_tasks as bt
        where not exists (select from judged as a where a.side = 'after' and a.task = bt.task)
    ),

    tasks as (
        select
            p.task,
            p.first_ordinal,
            count(p.after_session_id) as after_sessions,
            case
                when bool_or(p.verdict is null) then null
                when bool_and(p.verdict = 'fixed') then 'fixed'
                when bool_or(p.verdict = 'fixed') then 'flaky'
                when bool_or(p.verdict = 'still_failing') then 'still_failing'
                when bool_or(p.verdict = 'new_failure') then 'new_failure'
                else 'missing'
            end as verdict
        from pairs as p
        where p.matched
        group by p.task, p.first_ordinal
    ),

    totals as (
        select
            (select bool_and(j.ready) from judged as j where j.side = 'before') as before_ready,
            (select count(*) filter (where j.ready) from judged as j where j.side = 'before') as before_analysed,
            (select count(*) from judged as j where j.side = 'before') as before_sessions,
            (select count(*) from judged as j where j.side = 'after') as after_sessions,
            (select count(*) filter (where j.ready) from judged as j where j.side = 'after') as after_analysed,
            (select bool_and(t.verdict = 'fixed') from tasks as t) as tasks_fixed,
            (select coalesce(bool_and(p.verdict = 'fixed'), true) from pairs as p where not p.matched) as unmatched_fixed,
            (select count(*) filter (where p.before_failing and p.verdict = 'fixed') from pairs as p where p.matched)
            as improved,
            (
                select count(*) filter (where not p.before_failing and p.verdict in ('still_failing', 'new_failure'))
                from pairs as p
                where p.matched
            ) as worsened
    )

    select jsonb_build_object(
        'passed', coalesce(t.before_ready and t.tasks_fixed and t.unmatched_fixed, false),
        'pairs', coalesce((
            select jsonb_agg(jsonb_build_object(
                'task', p.task,
                'matched', p.matched,
                'before_session_ids', p.before_session_ids,
                'before_failing', p.before_failing,
                'after_session_id', p.after_session_id,
                'verdict', p.verdict
            ) order by p.first_ordinal nulls last, p.ordinal nulls last, p.task)
            from pairs as p
        ), '[]'),
        'tasks', coalesce((
            select jsonb_agg(jsonb_build_object(
                'task', k.task, 'after_sessions', k.after_sessions, 'verdict', k.verdict
            ) order by k.first_ordinal)
            from tasks as k
        ), '[]'),
        'summary', jsonb_build_object(
            'before_sessions', t.before_sessions,
            'before_analysed', t.before_analysed,
            'after_sessions', t.after_sessions,
            'after_analysed', t.after_analysed,
            'expected_after', r.expected_after,
            'pairs', (
                select jsonb_build_object(
                    'fixed', count(*) filter (where p.verdict = 'fixed'),
                    'still_failing', count(*) filter (where p.verdict = 'still_failing'),
                    'new_failure', count(*) filter (where p.verdict = 'new_failure'),
                    'missing', count(*) filter (where p.verdict = 'missing'),
                    'unmatched', count(*) filter (where not p.matched)
                )
                from pairs as p
            ),
            'tasks', (
                select jsonb_build_object(
                    'total', count(*),
                    'fixed', count(*) filter (where k.verdict = 'fixed'),
                    'flaky', count(*) filter (where k.verdict = 'flaky'),
                    'still_failing', count(*) filter (where k.verdict = 'still_failing'),
                    'new_failure', count(*) filter (where k.verdict = 'new_failure'),
                    'missing', count(*) filter (where k.verdict = 'missing')
                )
                from tasks as k
            ),
            'sign_test', internal.sign_test(t.improved, t.worsened)
        )
    )
    from totals as t
$$;
comment on function internal.regression_evaluation(app.regression_runs, boolean) is
'The verdicts of a run from its sessions'' stored analyses: pairs, tasks, summary (counts, sign test), passed.';

revoke all on function internal.task_key_of(jsonb), internal.sign_test(bigint, bigint),
internal.regression_members(app.regression_runs), internal.regression_complete(app.regression_runs),
internal.regression_evaluation(app.regression_runs, boolean) from public;
grant execute on function internal.task_key_of(jsonb)
to authenticated, agentdeck_key, service_role;
