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
-- The only way into app.audit_log: the actor comes from the request's own credential, never from
-- the caller, and only for a project the credential sees.
declare
    actor_kind text;
    actor_id text;
begin
    if (write_audit.workspace_id, write_audit.project_id) not in (select * from internal.visible_projects()) then
        raise exception using errcode = '42501', message = format(
            'project %s of workspace %s is not visible to this credential', write_audit.project_id,
            write_audit.workspace_id
        );
    end if;
    case internal.claim('role')
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
'Appends one audit-log row for the current credential (actor resolved here) in a project it sees.';

revoke all on function internal.request_id(), internal.write_audit(text, text, text, text, text, jsonb, jsonb, text)
from public;
grant execute on function internal.request_id() to authenticated, agentdeck_key, service_role;
-- Definer callers (clustering) write as the owner; keys never write audit rows themselves.
grant execute on function internal.write_audit(text, text, text, text, text, jsonb, jsonb, text)
to authenticated, service_role;
