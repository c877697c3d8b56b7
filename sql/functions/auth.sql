-- Supabase-compatible auth.uid() and auth.jwt(). On Supabase the auth schema exists and belongs to
-- Supabase, so nothing here touches it; elsewhere agentdeck creates and owns these shims.
do $shims$
begin
    if not exists (select from pg_catalog.pg_namespace where nspname = 'auth') then
        create schema auth;
        comment on schema auth is 'Shims with Supabase''s definitions of auth.uid() and auth.jwt().';
    end if;
    if (
        select pg_catalog.pg_get_userbyid(nspowner) from pg_catalog.pg_namespace where nspname = 'auth'
    ) <> 'agentdeck_owner' then
        return;
    end if;

    create or replace function auth.jwt() returns jsonb
    language sql stable
    as $fn$
        select coalesce(
            nullif(current_setting('request.jwt.claim', true), ''),
            nullif(current_setting('request.jwt.claims', true), '')
        )::jsonb
    $fn$;
    comment on function auth.jwt() is 'The request''s claims, as set by the API for this transaction (Supabase definition).';

    create or replace function auth.uid() returns uuid
    language sql stable
    as $fn$
        select coalesce(
            nullif(current_setting('request.jwt.claim.sub', true), ''),
            (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
        )::uuid
    $fn$;
    comment on function auth.uid() is 'The request''s user id (JWT sub), or null (Supabase definition).';

    grant usage on schema auth to authenticated, agentdeck_key, service_role, anon;
    grant execute on function auth.jwt(), auth.uid() to authenticated, agentdeck_key, service_role;
end
$shims$;
