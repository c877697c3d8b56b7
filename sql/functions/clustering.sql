-- Incident clustering, run by api.store_analysis when an analysis is stored: failure signatures
-- normalised and fingerprinted, then the session's links replaced and the incidents' counts,
-- times and status kept right under concurrency. docs/incidents.md explains the rules.

create or replace function internal.signature_rules_version() returns integer
language sql immutable
as $$
    select 1
$$;
comment on function internal.signature_rules_version() is
'Version of the normalisation rules; part of every fingerprint. Bump it whenever the rules change.';

create or replace function internal.normalization_rules()
returns table (step integer, name text, pattern text, replacement text, flags text)
language sql immutable parallel safe
as $$
    -- Version 1 (internal.signature_rules_version()). Order matters: earlier rules protect what
    -- later ones would split (a quoted path is one value, a uuid is not five numbers).
    select * from (values
        -- 'single' (not an apostrophe inside a word), "double" and `backtick` quoted values
        (1, 'quoted', $r$(?<![[:alnum:]_])'[^']*'|"[^"]*"|`[^`]*`$r$, '<str>', 'g'),
        -- URLs keep scheme and host: which service failed matters, which page does not
        (2, 'url', $r$(\m[a-z][a-z0-9+.-]*://[^\s/?#'"<>]+)[/?#][^\s'"<>]*$r$, '\1/<path>', 'gi'),
        (3, 'uuid', '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'gi'),
        (
            4, 'timestamp',
            $r$\m[0-9]{4}-[0-9]{2}-[0-9]{2}([t ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?(z|[+-][0-9]{2}(:?[0-9]{2})?)?)?$r$,
            '<ts>', 'gi'
        ),
        (5, 'time_of_day', $r$\m[0-9]{1,2}:[0-9]{2}:[0-9]{2}([.,][0-9]+)?$r$, '<ts>', 'g'),
        -- absolute, home- or dot-relative paths that start a token
        (6, 'path', $r$(^|[\s(\[=:,])(~|\.\.?)?(/[^\s/'"(),:;<>\[\]]+)+/?$r$, '\1<path>', 'g'),
        (7, 'windows_path', $r$\m[a-z]:\\[^\s'"<>(),;]*$r$, '<path>', 'gi'),
        (8, 'email', $r$[[:alnum:]._%+-]+@[[:alnum:]-]+(\.[[:alnum:]-]+)+$r$, '<email>', 'g'),
        (9, 'hex', $r$(?<![[:alnum:]_-])0x[0-9a-f]+(?![[:alnum:]_-])$r$, '<hex>', 'gi'),
        -- a whole-token number; a unit of up to 3 letters stays (30s, 1500ms, 10MB)
        (10, 'number', $r$(?<![[:alnum:]_-])[0-9]+([.,][0-9]+)*(?=[a-z]{0,3}(?![[:alnum:]_-]))$r$, '<n>', 'gi'),
        -- any other token of letters, digits, _ and - holding both a letter and a digit: ids,
        -- hashes, versions (req_8f2k3a, org-abc123, deadbeef12, job_7)
        (
            11, 'id',
            $r$(?<![[:alnum:]_-])(?=[[:alnum:]_-]*[0-9])(?=[[:alnum:]_-]*[a-z])[[:alnum:]_-]+(?![[:alnum:]_-])$r$,
            '<id>', 'gi'
        ),
        (12, 'digits', '[0-9]+([.,][0-9]+)*', '<n>', 'g'),
        (13, 'whitespace', $r$\s+$r$, ' ', 'g')
    ) as r (step, name, pattern, replacement, flags)
$$;
comment on function internal.normalization_rules() is
'The message normalisation rules (version internal.signature_rules_version()), applied by step.';

create or replace function internal.normalize_failure_message(message text) returns text
language plpgsql immutable parallel safe
set search_path = ''
as $$
declare
    rule record;
    normalized text := coalesce(message, '');
begin
    for rule in select * from internal.normalization_rules() as r order by r.step loop
        normalized := regexp_replace(normalized, rule.pattern, rule.replacement, rule.flags);
    end loop;
    return left(btrim(normalized), 500);
end
$$;
comment on function internal.normalize_failure_message(text) is
'A failure message with run-specific values replaced by placeholders (<str>, <path>, <uuid>, <ts>, <email>, <hex>, <id>, <n>).';

create or replace function internal.failure_fingerprint(label text, tool text, error_type text, message text)
returns text
language sql immutable parallel safe
set search_path = ''
as $$
    -- chr(31) (unit separator) keeps fields apart: ("a b", "c") and ("a", "b c") differ.
    select encode(sha256(convert_to(concat_ws(
        chr(31), 'v' || internal.signature_rules_version(), label, coalesce(tool, ''), coalesce(error_type, ''),
        internal.normalize_failure_message(message)
    ), 'UTF8')), 'hex')
$$;
comment on function internal.failure_fingerprint(text, text, text, text) is
'sha256 hex of rules version, label, tool, error type (verbatim) and the normalised message.';

create or replace function internal.label_specificity(label text) returns integer
language sql immutable parallel safe
as $$
    -- The detectors' CRITICAL_PRIORITY (api/detectors/suite.py), most specific first; a test keeps
    -- the two equal. Labels outside it (a workflow's own) rank after all of these (null).
    select array_position(array[
        'context_overflow', 'step_limit', 'rate_limited', 'auth_error', 'timeout', 'not_found', 'server_error',
        'code_execution_error', 'malformed_tool_call', 'malformed_output', 'assertion_failed', 'navigation_error',
        'empty_or_refused_response', 'tool_error', 'llm_error', 'loop', 'stalled', 'unexplained_failure'
    ], label)
$$;
comment on function internal.label_specificity(text) is
'Rank of a label, most specific first (the detectors'' tie-break order); null for labels it does not know.';

create or replace function internal.incident_min_confidence(workspace_id text) returns numeric
language sql stable
set search_path = ''
as $$
    select coalesce(
        (select s.min_confidence from app.incident_settings as s where s.workspace_id = incident_min_confidence.workspace_id),
        0.8
    )
$$;
comment on function internal.incident_min_confidence(text) is
'The workspace''s clustering threshold: app.incident_settings, else 0.8 (MEDIUM and STRONG findings).';

create or replace function internal.session_failures(
    workspace_id text, project_id text, trace_id text, min_confidence numeric
) returns table (
    fingerprint text, label text, tool text, error_type text, message text, critical_seq bigint,
    confidence numeric, occurrences integer, seen_at timestamptz
)
language sql stable
set search_path = ''
as $$
    with findings as (
        select
            f.value ->> 'label' as label,
            nullif(f.value #>> '{signature,tool}', '') as tool,
            nullif(f.value #>> '{signature,error_type}', '') as error_type,
            coalesce(f.value #>> '{signature,message}', '') as message,
            (f.value ->> 'critical_seq')::bigint as critical_seq,
            (f.value ->> 'confidence')::numeric as confidence,
            case
                when jsonb_typeof(f.value -> 'occurrences') = 'number'
                    then least(greatest(floor((f.value ->> 'occurrences')::numeric), 1), 2147483647)
                when jsonb_typeof(f.value #> '{evidence,facts,occurrences}') = 'number'
                    then least(greatest(floor((f.value #>> '{evidence,facts,occurrences}')::numeric), 1), 2147483647)
                else 1
            end::integer as occurrences
        from app.analyses as a
        cross join lateral jsonb_array_elements(a.labels) as f
        where
            a.workspace_id = session_failures.workspace_id
            and a.project_id = session_failures.project_id
            and a.trace_id = session_failures.trace_id
            and (f.value ->> 'confidence')::numeric >= session_failures.min_confidence
            -- Recovered failures are findings, not incidents: only what the agent never got past opens one.
            and f.value -> 'recovered' is distinct from 'true'::jsonb
    ),

    failures as (
        -- Findings at one critical seq are one failure seen by several rules (a 404 is both
        -- not_found and tool_error): it is clustered once, under its most specific label. Findings
        -- without a critical seq name no step, so each stands alone.
        select distinct on (coalesce(f.critical_seq::text, f.label)) f.*
        from findings as f
        order by coalesce(f.critical_seq::text, f.label), internal.label_specificity(f.label), f.confidence desc, f.label
    )

    select distinct on (fp.fingerprint)
        fp.fingerprint,
        f.label,
        f.tool,
        f.error_type,
        internal.normalize_failure_message(f.message),
        f.critical_seq,
        f.confidence,
        f.occurrences,
        coalesce(e.received_at, s.created_at)
    from failures as f
    cross join lateral (
        select internal.failure_fingerprint(f.label, f.tool, f.error_type, f.message) as fingerprint
    ) as fp
    inner join app.trace_sessions as s
        on
            s.workspace_id = session_failures.workspace_id
            and s.project_id = session_failures.project_id
            and s.trace_id = session_failures.trace_id
    left join app.events as e
        on
            e.workspace_id = s.workspace_id
            and e.project_id = s.project_id
            and e.trace_id = s.trace_id
            and e.seq = f.critical_seq
    order by fp.fingerprint, f.critical_seq
$$;
comment on function internal.session_failures(text, text, text, numeric) is
'The failures a session''s stored analysis clusters into: unrecovered, at or above min_confidence, one per critical seq and fingerprint.';

create or replace function internal.lock_incident(
    workspace_id text, project_id text, fingerprint text, label text, tool text, error_type text, message text,
    seen_at timestamptz
) returns app.incidents
language plpgsql volatile
set search_path = ''
as $$
declare
    locked app.incidents;
begin
    -- A concurrent first occurrence waits on the unique key here, then finds the committed row below.
    insert into app.incidents (
        workspace_id, incident_id, project_id, fingerprint, rules_version, label, tool, error_type, message,
        first_seen, last_seen
    )
    values (
        lock_incident.workspace_id, 'inc_' || replace(gen_random_uuid()::text, '-', ''), lock_incident.project_id,
        lock_incident.fingerprint, internal.signature_rules_version(), lock_incident.label, lock_incident.tool,
        lock_incident.error_type, lock_incident.message, lock_incident.seen_at, lock_incident.seen_at
    )
    on conflict on constraint incidents_project_fingerprint_key do nothing;
    select i.* into strict locked
    from app.incidents as i
    where
        i.workspace_id = lock_incident.workspace_id
        and i.project_id = lock_incident.project_id
        and i.fingerprint = lock_incident.fingerprint
    for update;
    return locked;
end
$$;
comment on function internal.lock_incident(text, text, text, text, text, text, text, timestamptz) is
'The project''s incident for a fingerprint, created (open) if it is new, locked until the transaction ends.';

create or replace function internal.cluster_analysis(workspace_id text, project_id text, trace_id text)
returns void
language plpgsql volatile security definer
set search_path = ''
as $$
-- Called by api.store_analysis right after it stored the session's analysis: the analysis row lock
-- serialises re-analyses of one session, so its links are read here without a race. Counts are
-- adjusted by deltas while the incident row is locked; first and last seen are min and max of the
-- remaining links (an index probe each). Definer, executable by the owner alone: requests reach
-- it only through api.store_analysis, after its write check.
declare
    change record;
    incident app.incidents;
    next app.incidents;
    reopens boolean;
    changed app.incidents[] := '{}';
begin
    perform internal.require_visible_project(cluster_analysis.workspace_id, cluster_analysis.project_id, true);
    for change in
        select
            coalesce(f.fingerprint, linked.fingerprint) as fingerprint,
            f.label, f.tool, f.error_type, f.message, f.critical_seq, f.confidence, f.occurrences, f.seen_at,
            linked.incident_id as linked_incident_id,
            linked.occurrences as linked_occurrences
        from internal.session_failures(
            cluster_analysis.workspace_id, cluster_analysis.project_id, cluster_analysis.trace_id,
            internal.incident_min_confidence(cluster_analysis.workspace_id)
        ) as f
        full join (
            select i.fingerprint, k.incident_id, k.occurrences
            from app.incident_sessions as k
            inner join app.incidents as i on k.workspace_id = i.workspace_id and k.incident_id = i.incident_id
            where
                k.workspace_id = cluster_analysis.workspace_id
                and k.project_id = cluster_analysis.project_id
                and k.trace_id = cluster_analysis.trace_id
        ) as linked on f.fingerprint = linked.fingerprint
        -- One lock order for everyone: analyses sharing fingerprints queue instead of deadlocking.
        order by coalesce(f.fingerprint, linked.fingerprint)
    loop
        if change.label is null then
            -- The session no longer shows this failure: its link goes, and with it its counts.
            select i.* into strict incident
            from app.incidents as i
            where i.workspace_id = cluster_analysis.workspace_id and i.incident_id = change.linked_incident_id
            for update;
            delete from app.incident_sessions as k
            where
                k.workspace_id = incident.workspace_id
                and k.incident_id = incident.incident_id
                and k.trace_id = cluster_analysis.trace_id;
        else
            incident := internal.lock_incident(
                cluster_analysis.workspace_id, cluster_analysis.project_id, change.fingerprint, change.label,
                change.tool, change.error_type, change.message, change.seen_at
            );
            insert into app.incident_sessions as k (
                workspace_id, incident_id, project_id, trace_id, critical_seq, confidence, occurrences, seen_at
            )
            values (
                incident.workspace_id, incident.incident_id, incident.project_id, cluster_analysis.trace_id,
                change.critical_seq, change.confidence, change.occurrences, change.seen_at
            )
            on conflict on constraint incident_sessions_pkey do update
                set
                    critical_seq = excluded.critical_seq,
                    confidence = excluded.confidence,
                    occurrences = excluded.occurrences,
                    seen_at = excluded.seen_at
                where
                    (k.critical_seq, k.confidence, k.occurrences, k.seen_at)
                    is distinct from (excluded.critical_seq, excluded.confidence, excluded.occurrences, excluded.seen_at);
        end if;
        -- A new occurrence after the resolution (not a re-analysis, nor an older session analysed late).
        reopens := change.linked_incident_id is null and incident.status = 'resolved'
            and change.seen_at > incident.resolved_at;
        next := incident;
        next.session_count := incident.session_count + case
            when change.label is null then -1 when change.linked_incident_id is null then 1 else 0
        end;
        next.occurrence_count := incident.occurrence_count + coalesce(change.occurrences, 0)
            - coalesce(change.linked_occurrences, 0);
        select coalesce(min(k.seen_at), incident.first_seen), coalesce(max(k.seen_at), incident.last_seen)
        into next.first_seen, next.last_seen
        from app.incident_sessions as k
        where k.workspace_id = incident.workspace_id and k.incident_id = incident.incident_id;
        if reopens then
            next.status := 'open';
            next.regressed := true;
            next.resolved_at := null;
        end if;
        continue when next is not distinct from incident;
        update app.incidents as i
        set
            session_count = next.session_count,
            occurrence_count = next.occurrence_count,
            first_seen = next.first_seen,
            last_seen = next.last_seen,
            status = next.status,
            regressed = next.regressed,
            resolved_at = next.resolved_at,
            updated_at = clock_timestamp()
        where i.workspace_id = incident.workspace_id and i.incident_id = incident.incident_id
        returning i.* into next;
        changed := changed || next;
        if reopens then
            perform internal.write_audit(
                incident.workspace_id, incident.project_id, 'incident.regressed', 'incident', incident.incident_id,
                internal.incident_state(incident), internal.incident_state(next), internal.request_id()
            );
        end if;
    end loop;
    -- Stream positions last: the counter row stays locked until commit.
    foreach next in array changed loop
        perform internal.emit_stream_message(
            -- Incidents belong to a project, not a session (docs/stream.md): no session_id filter matches them.
            next.workspace_id, next.project_id, null, 'incident.updated', internal.incident_json(next)
        );
    end loop;
end
$$;
comment on function internal.cluster_analysis(text, text, text) is
'Replaces a session''s incident links with those of its stored analysis; upserts, counts, reopens, streams incident.updated.';

revoke all on function internal.signature_rules_version(), internal.normalization_rules(),
internal.normalize_failure_message(text), internal.failure_fingerprint(text, text, text, text),
internal.label_specificity(text),
internal.incident_min_confidence(text), internal.session_failures(text, text, text, numeric),
internal.lock_incident(text, text, text, text, text, text, text, timestamptz),
internal.cluster_analysis(text, text, text) from public;
-- All of these are the owner's: api.store_analysis (security definer) runs clustering after its checks.
