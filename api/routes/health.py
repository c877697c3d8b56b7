"""Liveness and readiness."""

from __future__ import annotations

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.migrate import pending
from api.openapi import Operation


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """Ready when the database answers and every shipped migration is applied unchanged."""
    try:
        async with request.app.state.db.pool.acquire(timeout=2) as conn:
            missing = await pending(conn)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    if missing:
        return JSONResponse({"status": "unavailable", "migrations_pending": missing}, status_code=503)
    return JSONResponse({"status": "ok"})


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.state.openapi)


routes = [Route("/healthz", healthz), Route("/readyz", readyz), Route("/openapi.json", openapi)]
operations = [
    Operation("get", "/healthz", "Liveness: the process answers", {200: None}, secured=False),
    Operation("get", "/readyz", "Readiness: database reachable and migrations current", {200: None}, secured=False),
    Operation("get", "/openapi.json", "This document", {200: None}, secured=False),
]
