-- Incidents through the API: GET /api/incidents and PATCH /api/incidents/{id} (status, owner),
-- every change audit-logged and streamed. Clustering is in clustering.sql; see docs/incidents.md.

create or replace function internal.incident_json(i app.incidents) returns jsonb
language sql stable
set search_path = ''
as $$
    select jsonb_build_object(
        'id', i.incident_id,
        'workspace_id', i.workspace_id,
        'project_id', i.project_id,
        'title', i.title,
        'label', i.label,
        'tool', i.tool,
        'error_type', i.error_type,
        'message', i.message,
        'fingerprint', i.fingerprint,
        'rules_version', i.rules_version,
        'status', i.status,
        'owner', i.owner,
        'regressed', i.regressed,
        'first_seen', i.first_seen,
        'last_seen', i.last_seen,
        'resolved_at', i.resolved_at,
        'session_count', i.session_count,
        'occurrence_count', i.occurrence_count,
        'sample_session_ids', coalesce((
            select jsonb_agg(latest.trace_id order by latest.seen_at desc, latest.trace_id desc)
            from (
                select k.trace_id, k.seen_at
                from app.incident_sessions as k
                where k.workspace_id = i.workspace_id and k.incident_id = i.incident_id
                order by k.seen_at desc, k.trace_id desc
                limit 5
            ) as latest
        ), '[]'),
        'created_at', i.created_at,
        'updated_at', i.updated_at
    )
$$;
comment on function internal.incident_json(app.incidents) is
'The API representation of an incident, with its five most recently seen sessions.';

create or replace function internal.incident_state(i app.incidents) returns jsonb
language sql immutable
set search_path = ''
as $$
    select jsonb_build_object('status', i.status, 'owner', i.owner, 'regressed', i.regressed)
$$;
comment on function internal.incident_state(app.incidents) is 'What the audit log records of an incident before and after a change.';

create or replace function internal.visible_incident(incident_id text) returns app.incidents
language plpgsql stable
set search_path = ''
as $$
-- Security invoker: RLS and the explicit project check (Supabase's service_role bypasses RLS) decide.
declare
    found_incident app.incidents;
begin
    -- By (workspace, id), then the project checked (internal.visible_workspace_ids says why).
    select x.* into found_incident
    from (
        select i.*
        from app.incidents as i
        where i.workspace_id = any(internal.visible_workspace_ids()) and i.incident_id = visible_incident.incident_id
        offset 0
    ) as x
    where (x.workspace_id, x.project_id) in (select * from internal.visible_projects());
    if not found then
        raise exception using errcode = 'AD404', hint = 'incident_not_found',
            message = format('incident %s not found', visible_incident.incident_id);
    end if;
    return found_incident;
end
$$;
comment on function internal.visible_incident(text) is 'The incident if the credential sees it, else AD404 incident_not_found.';

create or replace function api.list_incidents(filters jsonb) returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
    max_rows integer := (filters ->> 'limit')::integer;
    after jsonb := internal.decode_cursor(
        filters ->> 'cursor', 'last_seen', array['workspace_id', 'incident_id']
    );
    page jsonb;
begin
    perform internal.require_identity();
    perform internal.require_visible_filters(filters ->> 'workspace_id', filters ->> 'project_id');
    select coalesce(jsonb_agg(
        internal.incident_json(p.i)
        order by (p.i).last_seen desc, (p.i).workspace_id desc, (p.i).incident_id desc
    ), '[]')
    into page
    from (
        select i
        from app.incidents as i
        where
            -- Explicit, not only RLS: Supabase's service_role bypasses RLS.
            (i.workspace_id, i.project_id) in (select * from internal.visible_projects())
            and (filters ->> 'workspace_id' is null or i.workspace_id = filters ->> 'workspace_id')
            and (filters ->> 'project_id' is null or i.project_id = filters ->> 'project_id')
            and (filters ->> 'status' is null or i.status = filters ->> 'status')
            and (filters ->> 'label' is null or i.label = filters ->> 'label')
            and (filters ->> 'owner' is null or i.owner = (filters ->> 'owner')::uuid)
            and (
                after is null
                or (i.last_seen, i.workspace_id, i.incident_id)
                < ((after ->> 'last_seen')::timestamptz, after ->> 'workspace_id', after ->> 'incident_id')
            )
        order by i.last_seen desc, i.workspace_id desc, i.incident_id desc
        limit max_rows
    ) as p;
    return jsonb_build_object(
        'incidents', page,
        'next_cursor', case when jsonb_array_length(page) = max_rows then internal.encode_cursor(jsonb_build_object(
            'last_seen', page -> -1 -> 'last_seen', 'workspace_id', page -> -1 -> 'workspace_id',
            'incident_id', page -> -1 -> 'id'
        )) end
    );
end
$$;
comment on function api.list_incidents(jsonb) is
'GET /api/incidents: visible incidents, most recently seen first, filtered, keyset-paginated by cursor.';

create or replace function api.update_incident(incident_id text, changes jsonb) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
-- PATCH /api/incidents/{id}: every check happens before the row changes, explicitly (this runs as
-- the owner). API keys hold no execute grant on this function (42501 → 403).
declare
    existing app.incidents;
    updated app.incidents;
    new_status text := coalesce(changes ->> 'status', '');
    message jsonb;
begin
    perform internal.require_identity();
    -- Visible first (404), then writable (403): a viewer learns the incident exists, a stranger does not.
    existing := internal.visible_incident(update_incident.incident_id);
    perform internal.require_visible_project(existing.workspace_id, existing.project_id, true);
    if changes ? 'status' and new_status not in ('open', 'acknowledged', 'resolved', 'ignored') then
        raise exception using errcode = 'AD422', hint = 'validation_error',
            message = format('status %s is not one of open, acknowledged, resolved, ignored', changes ->> 'status');
    end if;
    if
        changes ->> 'owner' is not null and not exists (
            select from app.workspace_members as m
            where m.workspace_id = existing.workspace_id and m.user_id = (changes ->> 'owner')::uuid
        )
    then
        raise exception using errcode = 'AD422', hint = 'owner_not_member',
            message = format('owner %s is not a member of workspace %s', changes ->> 'owner', existing.workspace_id);
    end if;
    select i.* into strict existing
    from app.incidents as i
    where i.workspace_id = existing.workspace_id and i.incident_id = existing.incident_id
    for update;
    updated := existing;
    if changes ? 'status' then
        updated.status := new_status;
    end if;
    if changes ? 'owner' then
        updated.owner := (changes ->> 'owner')::uuid;
    end if;
    if updated.status is not distinct from existing.status and updated.owner is not distinct from existing.owner then
        return internal.incident_json(existing);
    end if;
    update app.incidents as i
    set
        status = updated.status,
        owner = updated.owner,
        -- Resolving starts afresh: a later recurrence is a new regression.
        regressed = i.regressed and updated.status <> 'resolved',
        resolved_at = case
            when updated.status <> 'resolved' then null
            when existing.status = 'resolved' then i.resolved_at
            else clock_timestamp()
        end,
        updated_at = clock_timestamp()
    where i.workspace_id = existing.workspace_id and i.incident_id = existing.incident_id
    returning i.* into updated;
    perform internal.write_audit(
        existing.workspace_id, existing.project_id, 'incident.updated', 'incident', existing.incident_id,
        internal.incident_state(existing), internal.incident_state(updated), internal.request_id()
    );
    message := internal.incident_json(updated);
    perform internal.emit_stream_message(updated.workspace_id, updated.project_id, null, 'incident.updated', message);
    return message;
end
$$;
comment on function api.update_incident(text, jsonb) is
'PATCH /api/incidents/{id}: status and owner (a workspace member); 404 invisible, 403 read-only, 422 bad owner; audited.';

revoke all on function internal.incident_json(app.incidents), internal.incident_state(app.incidents),
internal.visible_incident(text), api.list_incidents(jsonb),
api.update_incident(text, jsonb) from public;
grant execute on function internal.incident_json(app.incidents), internal.incident_state(app.incidents),
internal.visible_incident(text), api.list_incidents(jsonb)
to authenticated, agentdeck_key, service_role;
-- API keys may read incidents but never change them.
grant execute on function api.update_incident(text, jsonb) to authenticated, service_role;
