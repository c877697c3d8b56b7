"""The live stream (GET /api/stream, docs/stream.md), in one place.

- `messages`: a stream message, its SSE frame (the one frame builder) and a subscriber's filter.
- `listener`: the dedicated LISTEN connection of the process, kept alive and reconnected.
- `hub`: one read per woken workspace, fanned out to bounded per-subscriber queues.
- `session`: one subscriber's stream, from authorisation through backfill to live and its end.
- `response`: the SSE response that watches its client (disconnect, stalled sends).
"""
