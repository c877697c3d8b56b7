"""What every handler does first: authenticate and rate-limit the caller, read a bounded JSON body."""

from __future__ import annotations

import contextlib
import json
import math
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from api.auth import Identity
from api.errors import ApiError
from api.ratelimit import RequestThrottle, credential_digest

# How deeply a request body may nest arrays and objects (docs/events.md).
MAX_JSON_DEPTH = 64
# Every digit kept as "0", every other byte turned into a space: runs of digits become plain to find.
_DIGITS_ONLY = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_NINETEEN_DIGITS = b"0" * 19
QueryModel = TypeVar("QueryModel", bound=BaseModel)
BodyModel = TypeVar("BodyModel", bound=BaseModel)


async def authorize(request: Request) -> Identity:
    """The caller's identity, throttled before it is checked unless it was verified recently (api/ratelimit.py)."""
    state = request.app.state
    throttle: RequestThrottle = state.throttle
    authorization = request.headers.get("authorization")
    verified_before = throttle.admit(authorization, request.client.host if request.client else None,
                                     request.headers)
    identity: Identity = await state.authenticator.identify(authorization, request.headers.get("x-workspace-id"),
                                                            from_browser=_sent_by_a_browser(request))
    request.scope["state"]["credential_kind"] = identity.kind
    # For the request log: the workspace a service credential named (keys resolve theirs in SQL).
    request.scope["state"]["workspace_id"] = identity.claims.get("workspace_id")
    if identity.kind != "key":  # checked just now; an API key is verified by the database
        throttle.verified(credential_digest(authorization))
    throttle.count(identity, verified_before)
    return identity


def _sent_by_a_browser(request: Request) -> bool:
    """Browsers add Origin to cross-origin and non-GET requests and Sec-Fetch-* to every request."""
    headers = request.headers
    return "origin" in headers or "sec-fetch-site" in headers or "sec-fetch-mode" in headers


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
    body = b"".join(chunks)
    value = _decode(body)
    # Deep nesting would exhaust the stack of whatever walks the value next (pydantic, the JSON
    # encoder, PostgreSQL): refuse it here. Depth cannot exceed the number of brackets, which is cheap to count.
    if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and _deeper_than(value, MAX_JSON_DEPTH):
        raise _too_deep()
    # PostgreSQL's jsonb cannot store NUL characters or unpaired surrogates: refuse the request
    # whole, up front (the cheap byte test keeps the walk off the common path).
    if (b"\\u0000" in body or b"\\ud" in body.lower()) and _has_unstorable_text(value):
        raise ApiError(400, "JSON strings must not contain \\u0000 or unpaired surrogates", code="malformed_json")
    return value


def _decode(body: bytes) -> Any:
    # orjson reads strict JSON (no NaN, no lone surrogates, valid UTF-8 only) at twice the standard
    # library's speed, but reads an integer beyond 64 bits as a float: a body with a run of 19
    # digits, or one orjson refuses, is read by the standard library, whose errors are the answer.
    if _NINETEEN_DIGITS not in body.translate(_DIGITS_ONLY):
        with contextlib.suppress(orjson.JSONDecodeError):
            return orjson.loads(body)
    try:
        # Decoded strictly first: json.loads(bytes) would let the UTF-8 bytes of a lone surrogate through.
        return json.loads(body.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise _too_deep() from None
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "the body is not valid UTF-8 JSON", code="malformed_json") from None


def _deeper_than(value: Any, limit: int) -> bool:
    level: list[Any] = [value]
    for _ in range(limit):
        level = [child for node in level if isinstance(node, (dict, list))
                 for child in (node.values() if isinstance(node, dict) else node)]
        if not level:
            return False
    return any(isinstance(node, (dict, list)) for node in level)


def _too_deep() -> ApiError:
    return ApiError(400, f"JSON nests deeper than {MAX_JSON_DEPTH} levels", code="too_deep")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is out of range")
    return number


def _has_unstorable_text(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value or any("\ud800" <= char <= "\udfff" for char in value)
    if isinstance(value, dict):
        return any(_has_unstorable_text(k) or _has_unstorable_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_unstorable_text(v) for v in value)
    return False


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(413, f"the body exceeds the limit of {max_bytes} bytes")


def json_text(text: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A response whose JSON was built by SQL: forwarded without re-encoding."""
    return Response(text, status_code=status, media_type="application/json", headers=headers)


def parse_query(model: type[QueryModel], request: Request, list_fields: tuple[str, ...] = ()) -> QueryModel:
    """Query parameters through a pydantic model: unknown or malformed parameters are a 400."""
    raw: dict[str, Any] = {}
    for name in request.query_params:
        values = request.query_params.getlist(name)
        if any("\x00" in value for value in values):
            raise ApiError(400, f"query parameter {name!r} contains a NUL character", code="bad_query")
        if name in list_fields:
            raw[name] = [part for value in values for part in value.split(",") if part]
        elif len(values) > 1:
            raise ApiError(400, f"query parameter {name!r} was given more than once", code="bad_query")
        else:
            raw[name] = values[0]
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ApiError(400, "bad query parameter", code="bad_query", details=validation_details(exc)) from None


def parse_body(model: type[BodyModel], body: Any) -> BodyModel:
    """A JSON body through a pydantic model: not an object is a 400, a wrong shape a 422 naming the paths."""
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object", code="bad_shape")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise ApiError(422, "the request body failed validation", details=validation_details(exc)) from None


def validation_details(exc: ValidationError) -> list[Any]:
    return [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors(include_url=False)]
