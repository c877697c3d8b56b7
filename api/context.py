"""What every handler does first: authenticate and rate-limit the caller, read a bounded JSON body."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.auth import Identity
from api.errors import ApiError


async def authorize(request: Request) -> Identity:
    state = request.app.state
    identity: Identity = await state.authenticator.identify(
        request.headers.get("authorization"), request.headers.get("x-workspace-id")
    )
    request.scope["state"]["credential_kind"] = identity.kind
    state.rate_limiter.check(identity.rate_key)
    return identity


async def read_json(request: Request, max_bytes: int) -> Any:
    """The request body as JSON: 415 unless JSON, 413 past `max_bytes` (checked while reading), 400 if malformed."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise ApiError(415, "the body must be application/json")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "the body is not valid JSON", code="malformed_json") from None


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(413, f"the body exceeds the limit of {max_bytes} bytes")


def json_text(text: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A response whose JSON was built by SQL: forwarded without re-encoding."""
    return Response(text, status_code=status, media_type="application/json", headers=headers)
