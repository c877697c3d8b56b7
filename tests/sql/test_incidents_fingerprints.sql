-- Normalisation and fingerprints: run-specific values never split an incident; tools, labels and
-- error types always do. One failure per critical seq, under its most specific label.
begin;
select plan(25);
select tests.seed();

-- Each rule, on its own.
select is(internal.normalize_failure_message('404 Not Found: /docs/42'), '<n> Not Found: <path>', 'paths and numbers');
select is(
    internal.normalize_failure_message('request req_8f2k3a timed out after 30.5s'), 'request <id> timed out after <n>s',
    'ids and decimal numbers'
);
select is(
    internal.normalize_failure_message('row 123e4567-e89b-12d3-a456-426614174000 locked'), 'row <uuid> locked', 'uuids'
);
select is(
    internal.normalize_failure_message('at 2024-05-01T12:34:56.789Z, then 2024-05-02 08:00:01+02:00 and 12:01:02'),
    'at <ts>, then <ts> and <ts>', 'timestamps with and without zones, times of day'
);
select is(
    internal.normalize_failure_message($$KeyError: 'user_id' in "a b" via `x` (don't)$$),
    $$KeyError: <str> in <str> via <str> (don't)$$, 'quoted values, but not apostrophes inside words'
);
select is(
    internal.normalize_failure_message('object at 0x7ffee3b4, digest deadbeef12, job_7, word feedface, v2'),
    'object at <hex>, digest <id>, <id>, word feedface, <id>', '0x hex; any token mixing letters and digits is an id'
);
select is(
    internal.normalize_failure_message('took 30s, 1500ms and 2.5s for 3 of 10MB (HTTP/1.1)'),
    'took <n>s, <n>ms and <n>s for <n> of <n>MB (HTTP/<n>)', 'numbers keep a short unit'
);
select is(
    internal.normalize_failure_message('GET https://api.example.com/users/123?page=2 failed'),
    'GET https://api.example.com/<path> failed', 'URLs keep their host'
);
select is(
    internal.normalize_failure_message('open C:\Temp\a.txt, ~/x/y.py and (../z) for alice@example.com'),
    'open <path>, <path> and (<path>) for <email>', 'Windows, home and relative paths; emails'
);
select is(
    internal.normalize_failure_message(e'  many\n\tspaces  '), 'many spaces', 'whitespace collapses'
);
select is(
    length(internal.normalize_failure_message(repeat('word ', 400))), 500, 'the result is cut to 500 characters'
);
select is(internal.normalize_failure_message(null), '', 'no message normalises to empty');

-- Fingerprints.
select is(
    internal.failure_fingerprint('not_found', 'fetch_page', 'HTTPError', '404 Not Found: /docs/42'),
    internal.failure_fingerprint('not_found', 'fetch_page', 'HTTPError', '404 Not Found: /docs/7/edit'),
    'messages differing only in paths share a fingerprint'
);
select is(
    internal.failure_fingerprint('timeout', 'search', 'TimeoutError', 'request req_8f2k3a timed out after 30.5s'),
    internal.failure_fingerprint('timeout', 'search', 'TimeoutError', 'request req_99 timed out after 2.0s'),
    'messages differing only in ids and numbers share a fingerprint'
);
select is(
    internal.failure_fingerprint('auth_error', null, 'PermissionDenied', 'user 9b2c7a1e-0000-4000-8000-000000000001'),
    internal.failure_fingerprint('auth_error', null, 'PermissionDenied', 'user 00000000-0000-4000-8000-00000000beef'),
    'messages differing only in uuids share a fingerprint'
);
select isnt(
    internal.failure_fingerprint('not_found', 'fetch_page', 'HTTPError', '404 Not Found: /docs/42'),
    internal.failure_fingerprint('not_found', 'open_file', 'HTTPError', '404 Not Found: /docs/42'),
    'different tools do not share a fingerprint'
);
select isnt(
    internal.failure_fingerprint('not_found', 'fetch_page', 'HTTPError', '404 Not Found: /docs/42'),
    internal.failure_fingerprint('tool_error', 'fetch_page', 'HTTPError', '404 Not Found: /docs/42'),
    'different labels do not share a fingerprint'
);
select isnt(
    internal.failure_fingerprint('tool_error', 'fetch_page', 'HTTPError', 'failed'),
    internal.failure_fingerprint('tool_error', 'fetch_page', 'ValueError', 'failed'),
    'different error types do not share a fingerprint'
);
select isnt(
    internal.failure_fingerprint('tool_error', 'a b', null, 'c'),
    internal.failure_fingerprint('tool_error', 'a', null, 'b c'),
    'fields cannot bleed into each other'
);
select is(
    internal.failure_fingerprint('tool_error', null, null, 'x'), internal.failure_fingerprint('tool_error', '', '', 'x'),
    'a missing tool or error type is the same as an empty one'
);
select matches(
    internal.failure_fingerprint('tool_error', null, null, 'x'), '^[0-9a-f]{64}$', 'a fingerprint is sha256 hex'
);

-- Which failures a stored analysis clusters into.
select tests.authenticate_as_key('adk_test_a1');
select null::void from api.create_trace('{"id": "fp-1"}');
select null::void from api.store_analysis('fp-1', null, tests.analysis(
    tests.finding('tool_error', 'fetch_page', 'HTTPError', '404 Not Found: /a', 0.95, 3),
    tests.finding('not_found', 'fetch_page', 'HTTPError', '404 Not Found: /a', 0.95, 3),
    tests.finding('loop', 'fetch_page', null, 'repeated 4 times', 0.8, 5, 4),
    tests.finding('stalled', null, null, 'page unchanged', 0.6, 7),
    tests.finding('my_workflow_label', 'x', null, 'custom', 0.9, 9),
    tests.finding('tool_error', 'x', null, 'custom', 0.9, 9)
), 'analyze');
reset role;
select results_eq(
    $$ select label, critical_seq, occurrences from internal.session_failures('ws_a', 'proj_a1', 'fp-1', 0.8)
       order by critical_seq $$,
    $$ values ('not_found'::text, 3::bigint, 1), ('loop', 5, 4), ('tool_error', 9, 1) $$,
    'one failure per critical seq under its most specific label; unknown labels rank last; weak findings dropped'
);
select is(
    (select count(*)::integer from internal.session_failures('ws_a', 'proj_a1', 'fp-1', 0.5)), 4,
    'a lower threshold lets the weak finding through'
);
select is(internal.incident_min_confidence('ws_a'), 0.8, 'the default threshold is 0.8');
insert into app.incident_settings (workspace_id, min_confidence) values ('ws_a', 0.6);
select is(internal.incident_min_confidence('ws_a'), 0.6, 'a workspace may set its own threshold');

select * from finish();
rollback;
