"""The ASGI application: routes table, error handlers and lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.analysis import AnalysisRunner
from api.auth import Authenticator
from api.config import Settings
from api.db import Database, api_role_url
from api.errors import MAPPED_ERRORS, ApiError, to_api_error
from api.fix.agent import FixAgent
from api.metrics import Metrics
from api.middleware import RequestContextMiddleware
from api.openapi import build_document
from api.ratelimit import RequestThrottle
from api.routes import (
    analysis,
    artifacts,
    console,
    fix_runs,
    health,
    incidents,
    metrics,
    otlp,
    regression_runs,
    sessions,
    stream,
    traces,
)
from api.storage import open_storage
from api.stream.hub import StreamHub
from api.stream.retention import StreamRetention
from api.worker import AnalysisWorker

# Each group module exposes `routes` and the `operations` that document them in /openapi.json.
ENDPOINT_GROUPS = (health, metrics, traces, sessions, artifacts, stream, analysis, incidents, fix_runs,
                   regression_runs, otlp, console)


def error_response(request: Request, error: ApiError) -> Response:
    return JSONResponse(error.body(request.scope["state"]["request_id"]), status_code=error.status,
                        headers=error.headers)


async def handle_lower_layer_error(request: Request, exc: Exception) -> Response:
    error = to_api_error(exc)
    if error.status == 429:
        request.app.state.metrics.refusals.labels(error.code).inc()
    return error_response(request, error)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = "no such endpoint" if exc.status_code == 404 else str(exc.detail)
    return error_response(request, ApiError(exc.status_code, message, headers=dict(exc.headers or {})))


def _watch(metrics: Metrics, db: Database, hub: StreamHub) -> None:
    """Gauges read from the live pool and stream hub when /metrics is scraped."""
    metrics.gauge("agentdeck_pool_connections", "Request pool connections by state (in_use, idle).",
                  lambda: [({"state": "in_use"}, db.pool.get_size() - db.pool.get_idle_size()),
                           ({"state": "idle"}, db.pool.get_idle_size())])
    metrics.gauge("agentdeck_pool_waiting_requests", "Requests waiting for a pool connection.",
                  lambda: [({}, db.waiting)])
    metrics.gauge("agentdeck_stream_subscribers", "Open GET /api/stream connections in this process.",
                  lambda: [({}, hub.subscriber_count())])
    metrics.gauge("agentdeck_stream_messages_sent", "Stream messages written to subscribers (a counter).",
                  lambda: [({}, hub.messages_sent)])


def create_app(settings: Settings, database_url: str) -> Starlette:
    """The app for `database_url` (the admin URL; requests log in as agentdeck_api unless configured)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        api_url = settings.api_database_url or api_role_url(database_url)
        app.state.db = await Database.connect(
            api_url,
            min_size=settings.pool_min,
            max_size=settings.pool_max,
            statement_timeout_ms=settings.statement_timeout_ms,
            max_waiters=settings.backpressure_waiters,
        )
        app.state.db.key_checked = app.state.throttle.key_checked
        app.state.storage = open_storage(settings)
        # The stream's listener logs in like the pool, on a connection of its own.
        app.state.stream_hub = StreamHub(api_url, settings.stream)
        app.state.stream_hub.start()
        app.state.analysis = AnalysisRunner(
            app.state.db, threads=settings.analysis_threads, max_pending=settings.analysis_max_pending,
            page_timeout_seconds=2 * settings.statement_timeout_ms / 1000 + 30,
        )
        _watch(app.state.metrics, app.state.db, app.state.stream_hub)
        workers = []
        if settings.run_worker:
            workers = [
                asyncio.create_task(
                    AnalysisWorker(app.state.db, runner=app.state.analysis, metrics=app.state.metrics).run()),
                asyncio.create_task(StreamRetention(app.state.db, settings.stream).run()),
            ]
        try:
            yield
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await app.state.stream_hub.close()
            await app.state.fix_agent.close()
            await app.state.storage.close()
            app.state.analysis.close()
            await app.state.db.close()

    app = Starlette(
        routes=[route for group in ENDPOINT_GROUPS for route in group.routes],
        middleware=[Middleware(RequestContextMiddleware)],
        exception_handlers={
            **{kind: handle_lower_layer_error for kind in MAPPED_ERRORS},
            HTTPException: handle_http_exception,
        },
        lifespan=lifespan,
    )
    # No slash redirects: Starlette builds their Location from the request's Host header.
    app.router.redirect_slashes = False
    app.state.settings = settings
    app.state.metrics = Metrics()
    app.state.openapi = build_document([op for group in ENDPOINT_GROUPS for op in group.operations])
    app.state.authenticator = Authenticator(settings)
    app.state.throttle = RequestThrottle(settings)
    app.state.fix_agent = FixAgent(settings.fix)
    return app
