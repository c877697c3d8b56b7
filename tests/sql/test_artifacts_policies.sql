-- Artifacts under RLS: records are seen per project, written only where writable, kept inside their
-- project's storage prefix, and artifact events must name an artifact of their own session.
begin;
select plan(27);
select tests.seed();

insert into app.trace_sessions (workspace_id, project_id, trace_id, create_hash) values
('ws_a', 'proj_a1', 't1', sha256('t1')), ('ws_a', 'proj_a1', 't1b', sha256('t1b')),
('ws_a', 'proj_a2', 't2', sha256('t2')), ('ws_b', 'proj_b1', 't3', sha256('t3'));
insert into app.artifacts (
    workspace_id, artifact_id, project_id, trace_id, kind, content_type, size_bytes, sha256, storage_backend,
    storage_path
) values
('ws_a', 'art_a1', 'proj_a1', 't1', 'screenshot', 'image/png', 10, sha256('a1'), 'local', 'ws_a/proj_a1/art_a1.png'),
('ws_a', 'art_a1b', 'proj_a1', 't1b', 'log', 'text/plain', 3, sha256('a1b'), 'local', 'ws_a/proj_a1/art_a1b.txt'),
('ws_a', 'art_a2', 'proj_a2', 't2', 'replay', 'video/webm', 20, sha256('a2'), 'local', 'ws_a/proj_a2/art_a2.webm'),
('ws_b', 'art_b1', 'proj_b1', 't3', 'other', 'application/zip', 5, sha256('b1'), 's3', 'ws_b/proj_b1/art_b1.zip');

-- Grants and RLS.
select ok(
    (select relrowsecurity and relforcerowsecurity from pg_class where oid = 'app.artifacts'::regclass),
    'artifacts have row level security enabled and forced'
);
select ok(not has_table_privilege('agentdeck_key', 'app.artifacts', 'update, delete'),
    'API keys cannot update or delete artifact records');
select ok(not has_table_privilege('authenticated', 'app.artifacts', 'update, delete'),
    'users cannot update or delete artifact records');
select ok(not has_table_privilege('anon', 'app.artifacts', 'select'), 'anon reads no artifacts');

-- The storage path stays inside its own project's prefix, whoever writes the row.
select throws_ok(
    $$ insert into app.artifacts (workspace_id, artifact_id, project_id, trace_id, kind, content_type, size_bytes,
           sha256, storage_backend, storage_path)
       values ('ws_a', 'art_x', 'proj_a1', 't1', 'other', 'text/plain', 1, sha256('x'), 'local',
           'ws_b/proj_b1/stolen.txt') $$,
    '23514', null, 'a record cannot point into another workspace''s prefix'
);
select throws_ok(
    $$ insert into app.artifacts (workspace_id, artifact_id, project_id, trace_id, kind, content_type, size_bytes,
           sha256, storage_backend, storage_path)
       values ('ws_a', 'art_x', 'proj_a1', 't1', 'other', 'text/plain', 1, sha256('x'), 'local',
           'ws_a/proj_a1/../../ws_b/proj_b1/x.txt') $$,
    '23514', null, 'a record cannot climb out of its prefix with ..'
);

-- Reading.
select tests.authenticate_as('alice');
select results_eq('select artifact_id from app.artifacts order by 1', $$values ('art_a1'), ('art_a1b'), ('art_a2')$$,
    'a member of A sees the artifacts of A only');
reset role;
select tests.authenticate_as_key('adk_test_a1');
select results_eq('select artifact_id from app.artifacts order by 1', $$values ('art_a1'), ('art_a1b')$$,
    'a key sees the artifacts of its project only');
select is(api.get_artifact('art_a1') ->> 'storage_path', 'ws_a/proj_a1/art_a1.png',
    'a key finds its project''s artifact');
select throws_ok($$ select api.get_artifact('art_a2') $$, 'AD404', 'artifact art_a2 not found',
    'another project''s artifact is not found');
select throws_ok($$ select api.get_artifact('art_b1') $$, 'AD404', 'artifact art_b1 not found',
    'another workspace''s artifact is not found');
reset role;
select tests.authenticate_as_key('adk_test_revoked');
select is_empty('select * from app.artifacts', 'a revoked key sees no artifacts');
reset role;
select tests.authenticate_as_service('ws_a');
select throws_ok($$ select api.get_artifact('art_b1') $$, 'AD404', null,
    'the service finds nothing outside the workspace it names');
select is(api.get_artifact('art_a2') ->> 'content_type', 'video/webm', 'the service finds its workspace''s artifact');
reset role;

-- Writing.
select tests.authenticate_as_key('adk_test_a1');
select throws_ok(
    $$ insert into app.artifacts (workspace_id, artifact_id, project_id, trace_id, kind, content_type, size_bytes,
           sha256, storage_backend, storage_path)
       values ('ws_a', 'art_x', 'proj_a2', 't2', 'other', 'text/plain', 1, sha256('x'), 'local', 'ws_a/proj_a2/x') $$,
    '42501', null, 'a key cannot record an artifact in another project'
);
select is(api.artifact_session('t1', null) ->> 'workspace_id', 'ws_a', 'an upload resolves its writable session');
select throws_ok($$ select api.artifact_session('t2', null) $$, 'AD404', null,
    'an upload to another project''s session finds no session');
select is(
    api.record_artifact('t1', 'proj_a1', $${"artifact_id": "art_new", "kind": "screenshot", "seq": 4,
        "content_type": "image/png", "size_bytes": 8, "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "storage_backend": "local", "storage_path": "ws_a/proj_a1/art_new.png"}$$),
    $${"artifact_id": "art_new", "storage_path": "ws_a/proj_a1/art_new.png", "kind": "screenshot",
       "content_type": "image/png", "size_bytes": 8,
       "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}$$::jsonb,
    'a key records an artifact of its session and gets the documented fields back'
);
select throws_ok(
    $$ select api.record_artifact('t1', 'proj_a1', '{"artifact_id": "art_again", "kind": "other",
        "content_type": "image/png", "size_bytes": 8, "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "storage_backend": "local", "storage_path": "ws_a/proj_a1/art_new.png"}') $$,
    'AD409', null, 'a second record of the same object is a conflict'
);
reset role;
select tests.authenticate_as('vera');
select throws_ok($$ select api.artifact_session('t1', null) $$, 'AD403', null, 'a viewer cannot upload');
reset role;

-- Artifact events name an artifact of their own session, by id and path.
select tests.authenticate_as_key('adk_test_a1');
create temporary table outcome on commit drop as
select api.append_events('t1', null, $$[
    {"index": 0, "seq": 1, "type": "artifact",
     "payload": {"artifact_id": "art_a1", "storage_path": "ws_a/proj_a1/art_a1.png"}},
    {"index": 1, "seq": 2, "type": "artifact",
     "payload": {"artifact_id": "art_a1b", "storage_path": "ws_a/proj_a1/art_a1b.txt"}},
    {"index": 2, "seq": 3, "type": "artifact",
     "payload": {"artifact_id": "art_a2", "storage_path": "ws_a/proj_a2/art_a2.webm"}},
    {"index": 3, "seq": 4, "type": "artifact",
     "payload": {"artifact_id": "art_b1", "storage_path": "ws_b/proj_b1/art_b1.zip"}},
    {"index": 4, "seq": 5, "type": "artifact",
     "payload": {"artifact_id": "art_a1", "storage_path": "ws_a/proj_a1/elsewhere.png"}},
    {"index": 5, "seq": 6, "type": "artifact",
     "payload": {"artifact_id": "art_new", "storage_path": "ws_a/proj_a1/art_new.png"}}
]$$) as result;
select is((select result -> 'accepted' from outcome), '2'::jsonb,
    'artifact events naming artifacts of the session are accepted');
select results_eq(
    $$ select (r ->> 'index')::integer, r ->> 'code' from outcome, jsonb_array_elements(result -> 'rejected') as r $$,
    $$ values (1, 'unknown_artifact'), (2, 'unknown_artifact'), (3, 'unknown_artifact'), (4, 'unknown_artifact') $$,
    'another session''s, another project''s, another workspace''s artifact, or a wrong path, is unknown_artifact'
);
select is(
    (select result -> 'rejected' -> 0 ->> 'reason' from outcome),
    'artifact_id and storage_path must name an artifact of this session',
    'the rejection says what an artifact event must name'
);
select is(
    api.append_events('t1', null, $$[{"index": 0, "seq": 1, "type": "artifact",
        "payload": {"artifact_id": "art_a1", "storage_path": "ws_a/proj_a1/art_a1.png"}}]$$) -> 'duplicates',
    '1'::jsonb, 'a replayed artifact event is a duplicate'
);
reset role;
select results_eq(
    $$ select seq from app.events where trace_id = 't1' order by seq $$, $$ values (1::bigint), (6::bigint) $$,
    'only the accepted artifact events are stored'
);
select is((select count(*)::integer from app.artifacts), 5, 'only the recorded artifact was added');
select is((select seq from app.artifacts where artifact_id = 'art_new'), 4::bigint, 'the record keeps its seq');

select * from finish();
rollback;
