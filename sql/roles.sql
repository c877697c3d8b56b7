-- Cluster-wide roles, created if missing (Supabase already has authenticated, anon and
-- service_role). Run first on every migrate, as the migrating (admin) user.
do $roles$
declare
    role_name text;
begin
    foreach role_name in array array[
        'agentdeck_owner', 'agentdeck_api', 'authenticated', 'agentdeck_key', 'service_role', 'anon'
    ] loop
        if not exists (select from pg_catalog.pg_roles where rolname = role_name) then
            begin
                execute format('create role %I nologin', role_name);
            exception when duplicate_object or unique_violation then
                null;  -- a concurrent migrate of another database created it first
            end;
        end if;
    end loop;
end
$roles$;

-- The pool's login role: it holds no privileges of its own and may only switch to a request role.
alter role agentdeck_api with login noinherit;
-- No JIT for its sessions: every request is a short indexed read or write, but a generic plan's
-- estimate over a large table can pass jit_above_cost, and compiling then cost 23 ms for a stream
-- page that runs in 1 ms (docs/benchmarks.md, History).
alter role agentdeck_api set jit = off;

-- The migrating user creates objects as the owner.
do $owner$
begin
    execute 'grant authenticated, agentdeck_key, service_role to agentdeck_api';
    execute format('grant agentdeck_owner to %I', current_user);
    execute format('grant create, connect on database %I to agentdeck_owner', current_database());
    execute format('grant connect on database %I to agentdeck_api', current_database());
end
$owner$;
