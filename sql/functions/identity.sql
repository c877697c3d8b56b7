-- Who is asking: the request's credential resolved to workspaces and projects, once per statement.
-- Claims are set by the API for each transaction (api/db.py):
--   console user  {"role": "authenticated", "sub": "<uuid>", ...}
--   API key       {"role": "agentdeck_key", "key_hash": "<sha256 hex>"}
--   service       {"role": "service_role", "workspace_id": "ws_..."}

create or replace function internal.claim(claim_name text) returns text
language sql stable
set search_path = ''
as $$
    select nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> claim_name
$$;
comment on function internal.claim(text) is 'One claim of the current request, or null.';

create or replace function internal.visible_workspaces() returns setof text
language sql stable security definer
set search_path = ''
as $$
    select m.workspace_id
    from app.workspace_members as m
    where
        internal.claim('role') = 'authenticated'
        and m.user_id = (select auth.uid())
    union all
    select k.workspace_id
    from app.api_keys as k
    where
        internal.claim('role') = 'agentdeck_key'
        and k.key_hash = decode(internal.claim('key_hash'), 'hex')
        and k.revoked_at is null
    union all
    select w.workspace_id
    from app.workspaces as w
    where
        internal.claim('role') = 'service_role'
        and w.workspace_id = internal.claim('workspace_id')
$$;
comment on function internal.visible_workspaces() is
'Workspaces the request may read: a user''s memberships, an API key''s workspace, the service''s named workspace.';

create or replace function internal.visible_projects()
returns table (workspace_id text, project_id text)
language sql stable security definer
set search_path = ''
as $$
    select p.workspace_id, p.project_id
    from app.projects as p
    where
        p.workspace_id in (select internal.visible_workspaces())
        and internal.claim('role') in ('authenticated', 'service_role')
    union all
    select k.workspace_id, k.project_id
    from app.api_keys as k
    where
        internal.claim('role') = 'agentdeck_key'
        and k.key_hash = decode(internal.claim('key_hash'), 'hex')
        and k.revoked_at is null
$$;
comment on function internal.visible_projects() is
'Projects the request may read: every project of a visible workspace, or an API key''s one project.';

create or replace function internal.writable_projects()
returns table (workspace_id text, project_id text)
language sql stable security definer
set search_path = ''
as $$
    select v.workspace_id, v.project_id
    from internal.visible_projects() as v
    where
        internal.claim('role') in ('agentdeck_key', 'service_role')
        or exists (
            select from app.workspace_members as m
            where
                m.workspace_id = v.workspace_id
                and m.user_id = (select auth.uid())
                and m.role <> 'viewer'
        )
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
