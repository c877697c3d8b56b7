-- Artifacts: screenshots, replays and other files of a session. The bytes live in private storage
-- (a local directory or an S3-compatible bucket); a row records where, what and how big.

create table app.artifacts (
    workspace_id text not null,
    artifact_id text not null,
    project_id text not null,
    trace_id text not null,
    seq bigint,
    kind text not null,
    content_type text not null,
    size_bytes bigint not null,
    sha256 bytea not null,
    storage_backend text not null,
    storage_path text not null,
    created_at timestamptz not null default clock_timestamp(),
    constraint artifacts_pkey primary key (workspace_id, artifact_id),
    constraint artifacts_session_fk foreign key (workspace_id, project_id, trace_id)
    references app.trace_sessions (workspace_id, project_id, trace_id) on delete cascade,
    constraint artifacts_id_prefixed check (artifact_id ~ '^art_[A-Za-z0-9]{1,64}$'),
    constraint artifacts_seq_nonnegative check (seq >= 0),
    constraint artifacts_kind_known check (
        kind in ('screenshot', 'replay', 'dom_snapshot', 'trace_archive', 'log', 'other')
    ),
    constraint artifacts_content_type_format check (content_type ~ '^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$'),
    constraint artifacts_size_nonnegative check (size_bytes >= 0),
    constraint artifacts_sha256_length check (length(sha256) = 32),
    constraint artifacts_backend_known check (storage_backend in ('local', 's3')),
    -- Segments of safe characters, none starting with a dot: no traversal, no hidden files.
    constraint artifacts_path_format check (
        length(storage_path) <= 1024
        and storage_path ~ '^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$'
    ),
    -- A row may only point into its own project's prefix: the tenancy boundary of the storage.
    constraint artifacts_path_in_project check (starts_with(storage_path, workspace_id || '/' || project_id || '/'))
);
-- One object, one record: a second registration of the same object is a conflict.
create unique index artifacts_workspace_path_idx on app.artifacts (workspace_id, storage_backend, storage_path);
-- A session's artifacts in upload order (the console's attachment list).
create index artifacts_workspace_session_idx on app.artifacts (workspace_id, project_id, trace_id, created_at);
comment on table app.artifacts is 'Files attached to a session. Bytes live in private storage; never exposed by a permanent URL.';
comment on column app.artifacts.workspace_id is 'Owning workspace.';
comment on column app.artifacts.artifact_id is 'Prefixed id (art_…), what artifact events and GET /artifacts/{id} name.';
comment on column app.artifacts.project_id is 'Owning project.';
comment on column app.artifacts.trace_id is 'The session the artifact belongs to.';
comment on column app.artifacts.seq is 'The event seq the artifact belongs to, if the uploader said.';
comment on column app.artifacts.kind is 'screenshot, replay, dom_snapshot, trace_archive, log or other.';
comment on column app.artifacts.content_type is 'Media type (lower-case, without parameters), from the allow-list.';
comment on column app.artifacts.size_bytes is 'Size of the stored object, counted by the server.';
comment on column app.artifacts.sha256 is 'sha256 of the stored object, computed by the server while writing or registering.';
comment on column app.artifacts.storage_backend is 'local (directory under the data dir) or s3 (S3-compatible, Supabase Storage).';
comment on column app.artifacts.storage_path is 'Object path inside the backend: workspace_id/project_id/...';
comment on column app.artifacts.created_at is 'When the artifact was recorded.';
comment on index app.artifacts_workspace_path_idx is 'One record per stored object.';
comment on index app.artifacts_workspace_session_idx is 'Lists a session''s artifacts in upload order.';
