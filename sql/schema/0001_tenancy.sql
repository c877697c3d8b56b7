-- Schemas, and the tenancy tables every other table hangs from.

create schema app;
comment on schema app is 'agentdeck tables. Never granted wholesale: each table grants what each request role needs.';
create schema api;
comment on schema api is 'Functions the request roles may execute. Security invoker, so RLS applies.';
create schema internal;
comment on schema internal is 'Security definer helpers (search_path pinned), executable only by what needs them.';

create table app.workspaces (
    workspace_id text primary key,
    name text not null,
    created_at timestamptz not null default now(),
    constraint workspaces_id_prefixed check (workspace_id ~ '^ws_[A-Za-z0-9]+$'),
    constraint workspaces_name_present check (length(btrim(name)) between 1 and 200)
);
comment on table app.workspaces is 'A tenant. Every other row carries its workspace_id first.';
comment on column app.workspaces.workspace_id is 'Prefixed id (ws_…).';
comment on column app.workspaces.name is 'Display name.';
comment on column app.workspaces.created_at is 'When the workspace was created.';

create table app.projects (
    workspace_id text not null,
    project_id text not null,
    name text not null,
    created_at timestamptz not null default now(),
    constraint projects_pkey primary key (workspace_id, project_id),
    constraint projects_workspace_fk foreign key (workspace_id) references app.workspaces (workspace_id)
    on delete cascade,
    constraint projects_id_prefixed check (project_id ~ '^proj_[A-Za-z0-9]+$'),
    constraint projects_name_present check (length(btrim(name)) between 1 and 200)
);
comment on table app.projects is 'A project inside a workspace: the unit an API key is scoped to.';
comment on column app.projects.workspace_id is 'Owning workspace.';
comment on column app.projects.project_id is 'Prefixed id (proj_…).';
comment on column app.projects.name is 'Display name.';
comment on column app.projects.created_at is 'When the project was created.';

create table app.workspace_members (
    workspace_id text not null,
    user_id uuid not null,
    role text not null,
    created_at timestamptz not null default now(),
    constraint workspace_members_pkey primary key (workspace_id, user_id),
    constraint workspace_members_workspace_fk foreign key (workspace_id)
    references app.workspaces (workspace_id) on delete cascade,
    constraint workspace_members_role_known check (role in ('owner', 'admin', 'member', 'viewer'))
);
-- The one index not led by workspace_id: resolving "which workspaces is this user in" per request.
create index workspace_members_user_idx on app.workspace_members (user_id, workspace_id);
comment on table app.workspace_members is 'Console users (JWT sub) and their role in a workspace.';
comment on column app.workspace_members.workspace_id is 'The workspace.';
comment on column app.workspace_members.user_id is 'The JWT sub claim (auth.uid()).';
comment on column app.workspace_members.role is 'owner, admin, member or viewer (viewers cannot write).';
comment on column app.workspace_members.created_at is 'When the membership was granted.';
comment on index app.workspace_members_user_idx is 'Per-request lookup of a user''s workspaces.';

create table app.api_keys (
    workspace_id text not null,
    key_id text not null,
    project_id text not null,
    name text not null,
    prefix text not null,
    key_hash bytea not null,
    created_at timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at timestamptz,
    constraint api_keys_pkey primary key (workspace_id, key_id),
    constraint api_keys_project_fk foreign key (workspace_id, project_id)
    references app.projects (workspace_id, project_id) on delete cascade,
    constraint api_keys_id_prefixed check (key_id ~ '^key_[A-Za-z0-9]+$'),
    constraint api_keys_hash_is_sha256 check (length(key_hash) = 32)
);
-- Keys are presented without a workspace, so the hash lookup is global by nature.
create unique index api_keys_hash_idx on app.api_keys (key_hash);
comment on table app.api_keys is 'Project API keys. Only the sha256 of the secret is stored; the secret is shown once.';
comment on column app.api_keys.workspace_id is 'Workspace of the key''s project.';
comment on column app.api_keys.key_id is 'Prefixed id (key_…), safe to show.';
comment on column app.api_keys.project_id is 'The one project the key may read and write.';
comment on column app.api_keys.name is 'What the key is for.';
comment on column app.api_keys.prefix is 'The first characters of the secret, for recognising a key in a list.';
comment on column app.api_keys.key_hash is 'sha256 of the whole secret.';
comment on column app.api_keys.created_at is 'When the key was created.';
comment on column app.api_keys.last_used_at is 'Last write made with the key (updated at most once a minute).';
comment on column app.api_keys.revoked_at is 'When the key was revoked; a revoked key resolves to nothing.';
comment on index app.api_keys_hash_idx is 'Resolves a presented secret to its key.';
