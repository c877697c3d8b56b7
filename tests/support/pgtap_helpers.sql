-- Test helpers, loaded into each test database (never by migrations). They authenticate exactly
-- as the API does (api/db.py): set_config('role', …) and set_config('request.jwt.claims', …).
create schema if not exists tests;
grant usage on schema tests to authenticated, agentdeck_key, service_role;

create or replace function tests.user_id(user_name text) returns uuid
language sql immutable
as $$
    select case user_name
        when 'alice' then 'a11ce000-0000-4000-8000-000000000001'
        when 'vera' then 'e1ea0000-0000-4000-8000-000000000002'
        when 'bob' then 'b0b00000-0000-4000-8000-000000000003'
        when 'nobody' then '00000000-0000-4000-8000-00000000dead'
    end::uuid
$$;

-- Workspaces A and B, and a canary no test identity belongs to.
-- alice: member of A; vera: viewer of A; bob: member of B. Keys: adk_test_a1 (proj_a1),
-- adk_test_b1 (proj_b1), adk_test_revoked (proj_a1, revoked).
create or replace function tests.seed() returns void
language sql
as $$
    insert into app.workspaces (workspace_id, name) values
    ('ws_a', 'A'), ('ws_b', 'B'), ('ws_canary', 'canary');
    insert into app.projects (workspace_id, project_id, name) values
    ('ws_a', 'proj_a1', 'A1'), ('ws_a', 'proj_a2', 'A2'), ('ws_b', 'proj_b1', 'B1'),
    ('ws_canary', 'proj_canary1', 'canary');
    insert into app.workspace_members (workspace_id, user_id, role) values
    ('ws_a', tests.user_id('alice'), 'member'), ('ws_a', tests.user_id('vera'), 'viewer'),
    ('ws_b', tests.user_id('bob'), 'member');
    insert into app.api_keys (workspace_id, key_id, project_id, name, prefix, key_hash, revoked_at) values
    ('ws_a', 'key_a1', 'proj_a1', 'a1', 'adk_te', sha256('adk_test_a1'::bytea), null),
    ('ws_b', 'key_b1', 'proj_b1', 'b1', 'adk_te', sha256('adk_test_b1'::bytea), null),
    ('ws_a', 'key_revoked', 'proj_a1', 'revoked', 'adk_te', sha256('adk_test_revoked'::bytea), now());
$$;

create or replace function tests.authenticate_as(user_name text) returns void
language sql
as $$
    select
        set_config('role', 'authenticated', true),
        set_config(
            'request.jwt.claims',
            json_build_object('role', 'authenticated', 'sub', tests.user_id(user_name))::text, true
        );
$$;

create or replace function tests.authenticate_as_key(secret text) returns void
language sql
as $$
    select
        set_config('role', 'agentdeck_key', true),
        set_config(
            'request.jwt.claims',
            json_build_object('role', 'agentdeck_key', 'key_hash', encode(sha256(secret::bytea), 'hex'))::text,
            true
        );
$$;

create or replace function tests.authenticate_as_service(workspace_id text) returns void
language sql
as $$
    select
        set_config('role', 'service_role', true),
        set_config(
            'request.jwt.claims', json_build_object('role', 'service_role', 'workspace_id', workspace_id)::text, true
        );
$$;

-- A service_role that lacks BYPASSRLS is what agentdeck creates; on Supabase it has BYPASSRLS,
-- which is why api.* functions also filter by the named workspace explicitly.

-- internal.emit_stream_message is the owner's alone (the writing api functions call it). Tests that
-- need a message of a given kind call it through this definer, still under the request's identity.
create or replace function tests.emit_stream_message(
    workspace_id text, project_id text, trace_id text, kind text, payload jsonb
) returns bigint
language sql security definer
as $$
    select internal.emit_stream_message(workspace_id, project_id, trace_id, kind, payload)
$$;
grant execute on function tests.emit_stream_message(text, text, text, text, jsonb)
to authenticated, agentdeck_key, service_role;

-- One finding of a detector result, as api.store_analysis receives it.
create or replace function tests.finding(
    label text, tool text, error_type text, message text, confidence numeric default 0.95,
    critical_seq integer default 1, occurrences integer default 1
) returns jsonb
language sql immutable
as $$
    select jsonb_build_object(
        'label', label, 'confidence', confidence, 'critical_seq', critical_seq,
        'evidence', jsonb_build_object(
            'seqs', jsonb_build_array(critical_seq), 'facts', jsonb_build_object('occurrences', occurrences)
        ),
        'signature', jsonb_build_object('label', label, 'tool', tool, 'error_type', error_type, 'message', message)
    )
$$;

-- A detector result holding the given findings (tests.finding(…)), for api.store_analysis.
create or replace function tests.analysis(variadic findings jsonb[]) returns jsonb
language sql immutable
as $$
    select jsonb_build_object(
        'detector_version', 'test', 'input_digest', repeat('0', 64), 'labels', to_jsonb(findings),
        'critical_step', null
    )
$$;
