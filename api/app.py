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

from api.auth import Authenticator
from api.config import Settings
from api.db import Database, api_role_url
from api.errors import ApiError
from api.middleware import RequestContextMiddleware
from api.openapi import build_document
from api.ratelimit import RateLimiter
from api.routes import analysis, artifacts, console, health, incidents, sessions, stream, traces
from api.storage import open_storage
from api.stream import StreamHub
from api.worker import AnalysisWorker

# Each group module exposes `routes` and the `operations` that document them in /openapi.json.
ENDPOINT_GROUPS = (health, traces, sessions, artifacts, stream, analysis, incidents, console)


def error_response(request: Request, error: ApiError) -> Response:
    return JSONResponse(error.body(request.scope["state"]["request_id"]), status_code=error.status,
                        headers=error.headers)


async def handle_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(request, exc)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = "no such endpoint" if exc.status_code == 404 else str(exc.detail)
    return error_response(request, ApiError(exc.status_code, message, headers=dict(exc.headers or {})))


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
        app.state.storage = open_storage(settings)
        # The stream's listener logs in like the pool, on a connection of its own.
        app.state.stream_hub = StreamHub(api_url, settings.stream)
        app.state.stream_hub.start()
        worker = asyncio.create_task(AnalysisWorker(app.state.db).run()) if settings.run_worker else None
        try:
            yield
        finally:
            if worker is not None:
                worker.cancel()
                await asyncio.gather(worker, return_exceptions=True)
            await app.state.stream_hub.close()
            await app.state.storage.close()
            await app.state.db.close()

    app = Starlette(
        routes=[route for group in ENDPOINT_GROUPS for route in group.routes],
        middleware=[Middleware(RequestContextMiddleware)],
        exception_handlers={ApiError: handle_api_error, HTTPException: handle_http_exception},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.openapi = build_document([op for group in ENDPOINT_GROUPS for op in group.operations])
    app.state.authenticator = Authenticator(settings)
    app.state.rate_limiter = RateLimiter(settings.rate_per_second, settings.rate_burst)
    return app
