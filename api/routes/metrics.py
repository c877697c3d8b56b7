"""GET /metrics: Prometheus text exposition, off unless configured (docs/operations.md)."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.errors import ApiError
from api.metrics import CONTENT_TYPE
from api.openapi import Operation


async def metrics(request: Request) -> Response:
    state = request.app.state
    settings = state.settings
    if not settings.metrics_enabled:
        raise ApiError(404, "no such endpoint")
    if settings.metrics_token is not None:
        presented = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(presented.encode(), settings.metrics_token.encode()):
            raise ApiError(401, "metrics need the configured metrics token",
                           headers={"WWW-Authenticate": 'Bearer realm="agentdeck-metrics"'})
    # The queue lives in the database: read it now, as the worker's own login role does for its jobs.
    async with state.db.pool.acquire() as conn:
        rows = await conn.fetch("select status, jobs from internal.analysis_queue_depth()")
    state.metrics.queue_depth = {row["status"]: int(row["jobs"]) for row in rows}
    return Response(state.metrics.exposition(), media_type=CONTENT_TYPE)


routes = [Route("/metrics", metrics, methods=["GET"])]
operations = [
    Operation("get", "/metrics", "Prometheus metrics (404 unless AGENTDECK_METRICS=on; may need a metrics token)",
              {200: None}, secured=False),
]
