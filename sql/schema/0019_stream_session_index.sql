-- GET /api/stream?session_id= (the console's live replay) reads one session's stream rows after a
-- cursor. Before, it read the workspace's or the project's rows after the cursor and dropped the
-- other sessions': watching a session from its start read the whole stream since (docs/decisions/0015).
create index stream_messages_session_end_idx on app.stream_messages (workspace_id, trace_id, end_position);
comment on index app.stream_messages_session_end_idx is
'Stream reads of one session after a cursor (session_id filters of the stream).';
