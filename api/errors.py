"""The one place that knows HTTP statuses: API errors, SQLSTATE mapping and the error envelope.

SQL functions raise `AD` + HTTP status (`AD404`, `AD409`, `AD422`), PostgREST-style, with the
machine code in HINT and JSON details in DETAIL. `42501` (insufficient privilege) is 403.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import asyncpg

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


def from_postgres(exc: BaseException) -> ApiError:
    """Map a database exception to the API error the caller sees."""
    if isinstance(exc, asyncpg.PostgresError):
        sqlstate = getattr(exc, "sqlstate", "") or ""
        if sqlstate.startswith("AD") and sqlstate[2:].isdigit():
            details: list[Any] = []
            raw_detail = getattr(exc, "detail", None)
            if raw_detail:
                parsed = json.loads(raw_detail)
                details = parsed if isinstance(parsed, list) else [parsed]
            status = int(sqlstate[2:])
            headers = {}
            if status == 429:
                # A 429 always says when to retry: the function's detail may name the seconds.
                retry = details[0].get("retry_after") if details and isinstance(details[0], dict) else None
                headers["Retry-After"] = str(retry if isinstance(retry, int) and retry > 0 else 1)
            return ApiError(status, str(getattr(exc, "message", exc)), code=getattr(exc, "hint", None),
                            details=details, headers=headers)
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
