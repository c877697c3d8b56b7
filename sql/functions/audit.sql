-- The audit log (app.audit_log): append-only, written only through internal.write_audit.

create or replace function internal.request_id() returns text
language sql stable
as $$
    select nullif(current_setting('request.id', true), '')
$$;
comment on function internal.request_id() is
'The API request id the request transaction set (request.id), else null.';

create or replace function internal.write_audit(
    workspace_id text, project_id text, action text, target_type text, target_id text, before jsonb, after jsonb,
    request_id text
) returns void
language plpgsql volatile security definer
set search_path = ''
as $$
-- The only way into app.audit_log, executable by the owner alone: the writing api functions call
-- it after their own checks. The actor comes from the request's role and claims, never from the
-- caller, and only for a project the request may write to.
declare
    actor_kind text;
    actor_id text;
begin
    perform internal.require_visible_project(write_audit.workspace_id, write_audit.project_id, true);
    case internal.request_role()
        when 'authenticated' then
            actor_kind := 'user';
            actor_id := auth.uid()::text;
        when 'agentdeck_key' then
            actor_kind := 'key';
            select k.key_id into actor_id
            from app.api_keys as k
            where k.key_hash = decode(internal.claim('key_hash'), 'hex');
        when 'service_role' then
            actor_kind := 'service';
    end case;
    insert into app.audit_log (
        workspace_id, project_id, actor_kind, actor_id, action, target_type, target_id, before, after, request_id
    )
    values (
        write_audit.workspace_id, write_audit.project_id, actor_kind, actor_id, write_audit.action,
        write_audit.target_type, write_audit.target_id, write_audit.before, write_audit.after, write_audit.request_id
    );
end
$$;
comment on function internal.write_audit(text, text, text, text, text, jsonb, jsonb, text) is
'Appends one audit-log row for the current request (actor resolved here) in a project (or workspace) it may write to.';

revoke all on function internal.request_id(), internal.write_audit(text, text, text, text, text, jsonb, jsonb, text)
from public;
grant execute on function internal.request_id() to authenticated, agentdeck_key, service_role;
-- internal.write_audit is the owner's alone: no request role can write a row with an action, a
-- state or a request id of its choosing.
