-- Tenancy tables under RLS: A sees only A, keys see their project, revoked keys see nothing.
begin;
select plan(26);
select tests.seed();

-- Guard: every table in app has RLS enabled and forced.
select is_empty(
    $$ select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = 'app' and c.relkind in ('r', 'p')
         and not (c.relrowsecurity and c.relforcerowsecurity) $$,
    'every table in app has row level security enabled and forced'
);
select is_empty(
    $$ select r.rolname from pg_roles r
       where r.rolname in ('authenticated', 'agentdeck_key', 'service_role', 'agentdeck_api', 'agentdeck_owner')
         and r.rolbypassrls $$,
    'no agentdeck-created role bypasses RLS'
);
select ok(
    (select not rolinherit and rolcanlogin from pg_roles where rolname = 'agentdeck_api'),
    'the pool login role is NOINHERIT'
);

-- Grants per role.
select ok(not has_table_privilege('authenticated', 'app.workspaces', 'insert, update, delete'),
    'authenticated cannot write workspaces');
select ok(not has_table_privilege('agentdeck_key', 'app.workspace_members', 'select'),
    'API keys cannot read memberships');
select ok(not has_table_privilege('authenticated', 'app.api_keys', 'select'),
    'no request role reads api_keys (authenticated)');
select ok(not has_table_privilege('service_role', 'app.api_keys', 'select'),
    'no request role reads api_keys (service_role)');
select ok(not has_table_privilege('anon', 'app.projects', 'select'), 'anon reads nothing');
select ok(not has_table_privilege('agentdeck_api', 'app.projects', 'select'),
    'the login role itself holds no table privilege');

-- A member of A.
select tests.authenticate_as('alice');
select results_eq('select workspace_id from app.workspaces order by 1', $$values ('ws_a')$$,
    'alice sees workspace A only');
select results_eq('select project_id from app.projects order by 1', $$values ('proj_a1'), ('proj_a2')$$,
    'alice sees the projects of A only');
select results_eq(
    'select count(*)::int from app.workspace_members', 'values (2)', 'alice sees the members of A only'
);
select throws_ok($$insert into app.workspaces (workspace_id, name) values ('ws_x', 'x')$$, '42501', null,
    'alice cannot create workspaces');
select throws_ok($$update app.projects set name = 'x' where project_id = 'proj_b1'$$, '42501', null,
    'alice cannot update projects of B');
select throws_ok($$delete from app.workspace_members where workspace_id = 'ws_canary'$$, '42501', null,
    'alice cannot delete memberships');
reset role;

-- A viewer of A reads, and writes nowhere.
select tests.authenticate_as('vera');
select results_eq('select workspace_id from app.workspaces', $$values ('ws_a')$$, 'vera sees A');
select is_empty('select * from internal.writable_projects()', 'a viewer has no writable project');
reset role;
select tests.authenticate_as('alice');
select results_eq('select project_id from internal.writable_projects() order by 1',
    $$values ('proj_a1'), ('proj_a2')$$, 'a member may write to the projects of A');
reset role;

-- A user in no workspace sees nothing.
select tests.authenticate_as('nobody');
select is_empty('select * from app.workspaces', 'a stranger sees no workspace');
reset role;

-- API keys.
select tests.authenticate_as_key('adk_test_a1');
select results_eq('select project_id from app.projects', $$values ('proj_a1')$$, 'a key sees exactly its project');
select lives_ok('select internal.require_identity()', 'a live key resolves');
reset role;
select tests.authenticate_as_key('adk_test_revoked');
select is_empty('select * from app.projects', 'a revoked key sees nothing');
select throws_ok('select internal.require_identity()', 'AD401', 'invalid or revoked API key',
    'a revoked key is refused');
reset role;
select tests.authenticate_as_key('adk_not_a_key');
select throws_ok('select internal.require_identity()', 'AD401', null, 'an unknown key is refused');
reset role;

-- The service sees only the workspace it names.
select tests.authenticate_as_service('ws_b');
select results_eq('select project_id from app.projects', $$values ('proj_b1')$$, 'the service sees its named workspace');
reset role;
select tests.authenticate_as_service('ws_nope');
select is_empty('select * from app.workspaces', 'the service naming an unknown workspace sees nothing');
reset role;

select * from finish();
rollback;
