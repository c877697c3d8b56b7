"""The one place that knows HTTP statuses: API errors, the mapping of lower-layer failures, the envelope.

Lower layers raise their own small exceptions (auth: AuthenticationFailed, CredentialNotAllowed, WorkspaceHeaderInvalid;
ratelimit: RateLimited; asyncpg's and botocore's errors; ingest rejections as data) and `to_api_error` turns each
into the one HTTP error the caller sees, as httpx maps its transport exceptions in one function.
SQL functions raise `AD` + HTTP status (`AD404`, `AD409`, `AD422`), PostgREST-style, with the
machine code in HINT and JSON details in DETAIL. `42501` (insufficient privilege) is 403.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import asyncpg
from botocore.exceptions import BotoCoreError, ClientError

from api.auth import AuthenticationFailed, CredentialNotAllowed, WorkspaceHeaderInvalid
from api.ratelimit import RateLimited

log = logging.getLogger("agentdeck.errors")

_DEFAULT_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """An error with its HTTP status, machine code and a message safe to show the caller."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _DEFAULT_CODES.get(status, "error")
        self.message = message
        self.details = details or []
        self.headers = headers or {}

    def body(self, request_id: str) -> dict[str, Any]:
        return {
            "error": {
                "status": self.status,
                "code": self.code,
                "message": self.message,
                "details": self.details,
                "request_id": request_id,
            }
        }


def internal_error() -> ApiError:
    return ApiError(500, "unexpected error; quote the request id when reporting it")


# 429s by what ran out: the message and machine code the caller sees.
_RATE_LIMITS = {
    "credential": ("rate limit exceeded for this credential", "rate_limited"),
    "address": ("too many requests with unverified credentials from this address", "unverified_rate_limited"),
    "backpressure": ("the server is busy; retry shortly", "backpressure"),
    "analysis": ("too many analyses are running; retry shortly", "analysis_busy"),
}
# How a single-event request answers each ingest rejection; a code not listed is a 422.
_REJECTION_STATUS = {"seq_not_monotonic": 409, "idempotency_conflict": 409, "seq_conflict": 409,
                     "session_ended": 409}


# What the app's exception handlers pass through to_api_error (anything else is the middleware's 500).
MAPPED_ERRORS: tuple[type[Exception], ...] = (
    ApiError, AuthenticationFailed, CredentialNotAllowed, WorkspaceHeaderInvalid, RateLimited,
    asyncpg.PostgresError, asyncpg.InterfaceError,
    BotoCoreError, ClientError,
)


def to_api_error(exc: BaseException) -> ApiError:
    """Any failure from below the handlers, as the API error the caller sees (500 for the unforeseen)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, AuthenticationFailed):
        return ApiError(401, str(exc), headers={"WWW-Authenticate": 'Bearer realm="agentdeck"'})
    if isinstance(exc, CredentialNotAllowed):
        return ApiError(403, str(exc), code="credential_not_allowed")
    if isinstance(exc, WorkspaceHeaderInvalid):
        return ApiError(400, str(exc), code=exc.code)
    if isinstance(exc, RateLimited):
        message, code = _RATE_LIMITS.get(exc.scope, ("rate limit exceeded", "rate_limited"))
        return ApiError(429, message, code=code, headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, TimeoutError):  # before OSError: e.g. a page the detectors waited for too long
        return ApiError(503, "the request took too long; retry later", code="timeout", headers={"Retry-After": "1"})
    if isinstance(exc, (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
        return from_postgres(exc)
    if isinstance(exc, (BotoCoreError, ClientError)):
        log.warning("object storage failed: %s", type(exc).__name__)
        return ApiError(503, "object storage is unavailable; retry later", code="storage_unavailable",
                        headers={"Retry-After": "1"})
    log.error("unexpected error %s", type(exc).__name__, exc_info=exc)
    return internal_error()


def rejection_error(rejection: dict[str, Any]) -> ApiError:
    """A single-event request's answer to its event's ingest rejection."""
    code = str(rejection.get("code") or "rejected")
    return ApiError(_REJECTION_STATUS.get(code, 422), str(rejection.get("reason") or code), code=code)


def _sql_details(raw: str | None) -> list[Any]:
    if not raw:
        return []
    try:
        parsed = json.loads(raw)
    except ValueError:
        return [raw]
    return parsed if isinstance(parsed, list) else [parsed]


def from_postgres(exc: BaseException) -> ApiError:
    """Map a database exception to the API error the caller sees."""
    if isinstance(exc, asyncpg.PostgresError):
        sqlstate = getattr(exc, "sqlstate", "") or ""
        if sqlstate.startswith("AD") and sqlstate[2:].isdigit() and 400 <= int(sqlstate[2:]) <= 599:
            status = int(sqlstate[2:])
            details = _sql_details(getattr(exc, "detail", None))
            headers = {}
            if status == 429:
                # A 429 always says when to retry: the function's detail may name the seconds.
                retry = details[0].get("retry_after") if details and isinstance(details[0], dict) else None
                headers["Retry-After"] = str(retry if isinstance(retry, int) and retry > 0 else 1)
            return ApiError(status, str(getattr(exc, "message", exc)), code=getattr(exc, "hint", None),
                            details=details, headers=headers)
        if sqlstate.startswith("22") or sqlstate == "54001":
            # A data exception is caused by a value the request sent that validation let through: still
            # the caller's 4xx, but logged, because the Python layer should have refused it first.
            log.warning("database refused a request value: sqlstate %s", sqlstate)
            return ApiError(422, "a value in the request cannot be stored", code="unstorable_value")
        if sqlstate == "42501":
            return ApiError(403, "this credential is not allowed to do that")
        if sqlstate == "57014":
            return ApiError(503, "the database took too long; retry later", code="timeout",
                            headers={"Retry-After": "1"})
        if sqlstate.startswith("08") or sqlstate in ("57P01", "57P02", "57P03", "53300"):
            return ApiError(503, "the database is unavailable; retry later", code="database_unavailable",
                            headers={"Retry-After": "1"})
    if isinstance(exc, (OSError, asyncpg.InterfaceError)):
        return ApiError(503, "the database is unavailable; retry later", code="database_unavailable",
                        headers={"Retry-After": "1"})
    log.error("unexpected database error %s: %s", getattr(exc, "sqlstate", type(exc).__name__), exc)
    return internal_error()
