"""Request ids, the error envelope for anything unhandled, and one structured log line per request."""

from __future__ import annotations

import json
import logging
import secrets
import time
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ApiError, to_api_error

log = logging.getLogger("agentdeck.request")
# The current request's id, for what runs below the handler (the request transaction records it).
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        current_request_id.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            log.exception("unhandled error", extra={"fields": {"request_id": request_id}})
            if response_started:
                raise
            await send_error(send_with_id, to_api_error(exc), request_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            metrics = scope["app"].state.metrics
            metrics.requests.labels(template, method, str(status)).inc()
            metrics.latency.labels(template, method).observe(elapsed)
            state = scope["state"]
            # The path only: query strings can carry signatures and cursors.
            log.info("request", extra={"fields": {
                "request_id": request_id,
                "method": method,
                "route": template,
                "path": scope.get("path"),
                "status": status,
                "ms": round(elapsed * 1000, 2),
                "credential": state.get("credential_kind"),
                "workspace_id": state.get("workspace_id"),
            }})


async def send_error(send: Send, error: ApiError, request_id: str) -> None:
    body = json.dumps(error.body(request_id)).encode()
    headers: list[Any] = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
