-- The live stream: a retention watermark per workspace, and the index resuming cursors use.

alter table app.stream_counters add column retained_after bigint not null default 0;
alter table app.stream_counters add constraint stream_counters_retained_within_head check (
    retained_after between 0 and last_position
);
comment on column app.stream_counters.retained_after is
'Positions at or below this were pruned from the stream: a cursor older than it gets a reset event.';

-- Resuming after position p needs the batch covering p + 1, which may start at or before p:
-- ranges are disjoint and increasing, so "ends after p" finds it with one index range scan.
create index stream_messages_workspace_end_idx on app.stream_messages (
    workspace_id, (position + message_count)
);
comment on index app.stream_messages_workspace_end_idx is
'Stream reads after a cursor (backfill, the hub''s fetch), including a batch the cursor falls inside.';
