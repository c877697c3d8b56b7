-- Who is asking: the request's credential resolved to workspaces and projects, once per statement.
-- Claims are set by the API for each transaction (api/db.py):
--   console user  {"role": "authenticated", "sub": "<uuid>", ...}
--   API key       {"role": "agentdeck_key", "key_hash": "<sha256 hex>"}
--   service       {"role": "service_role", "workspace_id": "ws_..."}

-- These helpers are plpgsql, not sql: plpgsql caches its plans per connection, whereas a
-- non-inlinable sql function (security definer, or with SET) is planned again on every call,
-- and RLS policies call them several times per request.

create or replace function internal.claim(claim_name text) returns text
language sql stable
as $$
    select nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb ->> claim_name
$$;
comment on function internal.claim(text) is 'One claim of the current request, or null (inlinable: no SET clause).';

create or replace function internal.visible_workspaces() returns setof text
language plpgsql stable security definer
set search_path = ''
as $$
begin
    case internal.claim('role')
        when 'authenticated' then
            return query select m.workspace_id from app.workspace_members as m where m.user_id = auth.uid();
        when 'agentdeck_key' then
            return query
            select k.workspace_id from app.api_keys as k
            where k.key_hash = decode(internal.claim('key_hash'), 'hex') and k.revoked_at is null;
        when 'service_role' then
            return query
            select w.workspace_id from app.workspaces as w where w.workspace_id = internal.claim('workspace_id');
        else
            return;
    end case;
end
$$;
comment on function internal.visible_workspaces() is
'Workspaces the request may read: a user''s memberships, an API key''s workspace, the service''s named workspace.';

create or replace function internal.visible_projects()
returns table (workspace_id text, project_id text)
language plpgsql stable security definer
set search_path = ''
as $$
begin
    case internal.claim('role')
        when 'agentdeck_key' then
            return query
            select k.workspace_id, k.project_id from app.api_keys as k
            where k.key_hash = decode(internal.claim('key_hash'), 'hex') and k.revoked_at is null;
        when 'authenticated', 'service_role' then
            return query
            select p.workspace_id, p.project_id from app.projects as p
            where p.workspace_id in (select internal.visible_workspaces());
        else
            return;
    end case;
end
$$;
comment on function internal.visible_projects() is
'Projects the request may read: every project of a visible workspace, or an API key''s one project.';

create or replace function internal.writable_projects()
returns table (workspace_id text, project_id text)
language plpgsql stable security definer
set search_path = ''
as $$
begin
    case internal.claim('role')
        when 'agentdeck_key', 'service_role' then
            return query select v.workspace_id, v.project_id from internal.visible_projects() as v;
        when 'authenticated' then
            return query
            select p.workspace_id, p.project_id
            from app.projects as p
            inner join app.workspace_members as m on p.workspace_id = m.workspace_id
            where m.user_id = auth.uid() and m.role <> 'viewer';
        else
            return;
    end case;
end
$$;
comment on function internal.writable_projects() is
'Visible projects the request may write to: viewers write nowhere.';

create or replace function internal.require_identity() returns void
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    claimed_role text := internal.claim('role');
    presented_hash bytea;
begin
    if claimed_role is null or claimed_role not in ('authenticated', 'agentdeck_key', 'service_role') then
        raise exception using errcode = 'AD401', message = 'missing or invalid authentication';
    end if;
    if claimed_role <> 'agentdeck_key' then
        return;
    end if;
    presented_hash := decode(internal.claim('key_hash'), 'hex');
    if not exists (select from app.api_keys as k where k.key_hash = presented_hash and k.revoked_at is null) then
        raise exception using errcode = 'AD401', message = 'invalid or revoked API key';
    end if;
    -- Writes record key use, at most once a minute so hot keys do not rewrite their row per request.
    if current_setting('transaction_read_only') = 'off' then
        update app.api_keys as k
        set last_used_at = now()
        where
            k.key_hash = presented_hash
            and (k.last_used_at is null or k.last_used_at < now() - interval '1 minute');
    end if;
end
$$;
comment on function internal.require_identity() is
'Raises AD401 unless the request carries a usable credential (a revoked API key is not one).';

revoke all on function internal.claim(text), internal.visible_workspaces(), internal.visible_projects(),
internal.writable_projects(), internal.require_identity() from public;
grant usage on schema internal to authenticated, agentdeck_key, service_role;
grant execute on function internal.claim(text), internal.visible_workspaces(), internal.visible_projects(),
internal.writable_projects(), internal.require_identity() to authenticated, agentdeck_key, service_role;
