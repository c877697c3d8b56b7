-- Event positions read back under RLS: `event_seqs[1]` is an array subscript, which the planner
-- does not treat as leakproof, so under a request role's policies the session's batch lookup could
-- not use its expression index and scanned every batch row of the session for each event read
-- (79 µs an event at 100,000 events). A stored column compared with plain `<=` keeps the index.

alter table app.stream_messages add column first_seq bigint generated always as (event_seqs[1]) stored;
comment on column app.stream_messages.first_seq is
'trace.event: the batch''s first seq (event_seqs[1]), stored so the seq-to-position lookup uses an index under RLS.';

drop index app.stream_messages_session_first_seq_idx;
create index stream_messages_session_first_seq_idx on app.stream_messages (
    workspace_id, project_id, trace_id, first_seq
) where kind = 'trace.event';
comment on index app.stream_messages_session_first_seq_idx is
'Finds the batch (and so the position) of a session''s event by its seq: the last batch starting at or below it.';
