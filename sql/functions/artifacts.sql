-- Artifacts: the session an upload attaches to, the record of a stored object, and reading it back.
-- Bytes never pass through here: the API streams them to storage between the first two calls.
-- plpgsql throughout, so bodies may name helpers that files sorted after this one define.

create or replace function api.artifact_session(trace_id text, project_id text) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    s app.trace_sessions;
begin
    perform internal.require_identity();
    s := internal.find_session(artifact_session.trace_id, artifact_session.project_id, true);
    return jsonb_build_object('workspace_id', s.workspace_id, 'project_id', s.project_id, 'trace_id', s.trace_id);
end
$$;
comment on function api.artifact_session(text, text) is
'Before an upload: the writable session it attaches to (404 if invisible, 403 if read-only), whose prefix it goes to.';

create or replace function api.record_artifact(trace_id text, project_id text, artifact jsonb) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    s app.trace_sessions;
    created app.artifacts;
begin
    perform internal.require_identity();
    perform internal.record_key_use();
    -- Checked again: the credential may have been revoked, or the session deleted, while the bytes streamed.
    s := internal.find_session(record_artifact.trace_id, record_artifact.project_id, true);
    insert into app.artifacts (
        workspace_id, artifact_id, project_id, trace_id, seq, kind, content_type, size_bytes, sha256,
        storage_backend, storage_path
    )
    values (
        s.workspace_id, artifact ->> 'artifact_id', s.project_id, s.trace_id, (artifact ->> 'seq')::bigint,
        artifact ->> 'kind', artifact ->> 'content_type', (artifact ->> 'size_bytes')::bigint,
        decode(artifact ->> 'sha256', 'hex'), artifact ->> 'storage_backend', artifact ->> 'storage_path'
    )
    on conflict (workspace_id, storage_backend, storage_path) do nothing
    returning * into created;
    if created.artifact_id is null then
        raise exception using errcode = 'AD409', hint = 'artifact_path_taken',
            message = format('an artifact already records the object %s', artifact ->> 'storage_path');
    end if;
    return jsonb_build_object(
        'artifact_id', created.artifact_id,
        'storage_path', created.storage_path,
        'kind', created.kind,
        'content_type', created.content_type,
        'size_bytes', created.size_bytes,
        'sha256', encode(created.sha256, 'hex')
    );
end
$$;
comment on function api.record_artifact(text, text, jsonb) is
'After the bytes are stored and checked: records the artifact (409 if its object already has a record).';

create or replace function api.get_artifact(artifact_id text) returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
    found app.artifacts;
begin
    perform internal.require_identity();
    -- The explicit visibility filter repeats RLS on purpose: Supabase's service_role bypasses RLS.
    -- By (workspace, id), then the project checked (internal.visible_workspace_ids says why).
    select x.* into found
    from (
        select a.*
        from app.artifacts as a
        where a.workspace_id = any(internal.visible_workspace_ids()) and a.artifact_id = get_artifact.artifact_id
        offset 0
    ) as x
    where (x.workspace_id, x.project_id) in (select * from internal.visible_projects());
    if found.artifact_id is null then
        raise exception using errcode = 'AD404', hint = 'artifact_not_found',
            message = format('artifact %s not found', get_artifact.artifact_id);
    end if;
    return jsonb_build_object(
        'artifact_id', found.artifact_id,
        'storage_backend', found.storage_backend,
        'storage_path', found.storage_path,
        'content_type', found.content_type
    );
end
$$;
comment on function api.get_artifact(text) is
'GET /artifacts/{id}: where a visible artifact is stored (404 if invisible), for signing a short-lived URL.';

revoke all on function api.artifact_session(text, text), api.record_artifact(text, text, jsonb),
api.get_artifact(text) from public;
grant execute on function api.artifact_session(text, text), api.record_artifact(text, text, jsonb),
api.get_artifact(text) to authenticated, agentdeck_key, service_role;
