-- Who is asking: the request's credential resolved to workspaces and projects, once per statement.
-- The kind of credential is the role the transaction runs as (SET ROLE), never a claim: claims
-- only say which user, key or workspace. The API sets both for each transaction (api/db.py):
--   console user  role authenticated, claims {"role": "authenticated", "sub": "<uuid>", ...}
--   API key       role agentdeck_key, claims {"role": "agentdeck_key", "key_hash": "<sha256 hex>"}
--   service       role service_role,  claims {"role": "service_role", "workspace_id": "ws_..."}

-- These helpers are plpgsql, not sql: plpgsql caches its plans per connection, whereas a
-- non-inlinable sql function (security definer, or with SET) is planned again on every call,
-- and RLS policies call them several times per request.

create or replace function internal.claim(claim_name text) returns text
language sql stable
as $$
    select nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb ->> claim_name
$$;
comment on function internal.claim(text) is 'One claim of the current request, or null (inlinable: no SET clause).';

create or replace function internal.request_role() returns text
language sql stable
as $$
    -- current_setting('role') is what SET ROLE chose; a security definer function changes
    -- current_user but not this, so helpers running as the owner still see the request's role.
    select case
        when pg_catalog.current_setting('role') in ('authenticated', 'agentdeck_key', 'service_role')
            then pg_catalog.current_setting('role')
    end
$$;
comment on function internal.request_role() is
'The request role the transaction runs as (authenticated, agentdeck_key, service_role), else null. Never a claim.';

create or replace function internal.visible_workspaces() returns setof text
language plpgsql stable security definer
set search_path = ''
as $$
begin
    case internal.request_role()
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
    case internal.request_role()
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

create or replace function internal.visible_workspace_ids() returns text[]
language sql stable
as $$
    -- For lookups by id: `workspace_id = any(…) and id = …` names both columns of the id's index,
    -- and the project is checked after the lookup (behind `offset 0`). Joined to the visible
    -- projects instead, the planner may read a project's newest-first index, the whole project,
    -- when one tenant's rows skew its statistics (tests/api/test_history_plans.py).
    select array(select internal.visible_workspaces())
$$;
comment on function internal.visible_workspace_ids() is
'The visible workspaces as an array, for lookups by (workspace_id, id) that do not depend on the planner''s estimates.';

create or replace function internal.writable_projects()
returns table (workspace_id text, project_id text)
language plpgsql stable security definer
set search_path = ''
as $$
begin
    case internal.request_role()
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
language plpgsql stable security definer
set search_path = ''
as $$
declare
    actual_role text := internal.request_role();
begin
    -- The claim must agree with the role: a token minted for one kind of credential is never
    -- read as another (api/db.py sets both from the same identity).
    if actual_role is null or internal.claim('role') is distinct from actual_role then
        raise exception using errcode = 'AD401', message = 'missing or invalid authentication';
    end if;
    if actual_role = 'agentdeck_key' and not exists (
        select from app.api_keys as k
        where k.key_hash = decode(internal.claim('key_hash'), 'hex') and k.revoked_at is null
    ) then
        raise exception using errcode = 'AD401', message = 'invalid or revoked API key';
    end if;
end
$$;
comment on function internal.require_identity() is
'Raises AD401 unless the request runs as a request role whose claims agree with it (a revoked API key does not).';

create or replace function internal.record_key_use() returns void
language plpgsql volatile security definer
set search_path = ''
as $$
begin
    -- At most once a minute, so hot keys do not rewrite their row on every write.
    update app.api_keys as k
    set last_used_at = now()
    where
        internal.request_role() = 'agentdeck_key'
        and k.key_hash = decode(internal.claim('key_hash'), 'hex')
        and (k.last_used_at is null or k.last_used_at < now() - interval '1 minute');
end
$$;
comment on function internal.record_key_use() is
'Records that the request''s API key wrote (last_used_at); called by the writing api functions.';

create or replace function internal.require_visible_project(
    workspace_id text, project_id text, for_write boolean
) returns void
language plpgsql stable
set search_path = ''
as $$
-- The one check-and-raise for "may this request act on that project" (a null project_id: on the
-- workspace itself). 42501 when it is invisible (a caller's bug or a probe), AD403 read_only when
-- it is only readable. Written with exists, so a null id is refused rather than let through.
begin
    if not exists (
        select from internal.visible_projects() as v
        where
            v.workspace_id = require_visible_project.workspace_id
            and (require_visible_project.project_id is null or v.project_id = require_visible_project.project_id)
    ) then
        raise exception using errcode = '42501', message = format(
            'project %s of workspace %s is not visible to this credential',
            coalesce(require_visible_project.project_id, '(none)'), require_visible_project.workspace_id
        );
    end if;
    if for_write then
        perform internal.require_writable_project(require_visible_project.workspace_id, require_visible_project.project_id);
    end if;
end
$$;
comment on function internal.require_visible_project(text, text, boolean) is
'Raises 42501 unless the project (or, for null, the workspace) is visible; AD403 read_only when for_write and it is not writable.';

create or replace function internal.require_writable_project(workspace_id text, project_id text) returns void
language plpgsql stable
set search_path = ''
as $$
-- For a project (or, for null, a workspace) already known to be visible: AD403 read_only unless
-- the request may write to it. Only a member can be a viewer: a key or the service writes
-- wherever it sees, so the writable set is read for users alone.
begin
    if internal.request_role() = 'authenticated' and not exists (
        select from internal.writable_projects() as w
        where
            w.workspace_id = require_writable_project.workspace_id
            and (require_writable_project.project_id is null or w.project_id = require_writable_project.project_id)
    ) then
        raise exception using errcode = 'AD403', hint = 'read_only', message = format(
            'this credential may not write to project %s of workspace %s',
            coalesce(require_writable_project.project_id, '(none)'), require_writable_project.workspace_id
        );
    end if;
end
$$;
comment on function internal.require_writable_project(text, text) is
'Raises AD403 read_only unless the request may write to the (visible) project, or for null the workspace.';

revoke all on function internal.claim(text), internal.request_role(), internal.visible_workspaces(),
internal.visible_workspace_ids(), internal.visible_projects(), internal.writable_projects(), internal.require_identity(),
internal.record_key_use(), internal.require_visible_project(text, text, boolean),
internal.require_writable_project(text, text) from public;
grant usage on schema internal to authenticated, agentdeck_key, service_role;
grant execute on function internal.claim(text), internal.request_role(), internal.visible_workspaces(),
internal.visible_workspace_ids(), internal.visible_projects(), internal.writable_projects(), internal.require_identity(),
internal.require_visible_project(text, text, boolean), internal.require_writable_project(text, text)
to authenticated, agentdeck_key, service_role;
