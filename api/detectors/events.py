"""The event view detectors read, and tolerant accessors for JSON-shaped payloads.

Only `seq, type, name, payload, parent_seq` are read; client timestamps and storage fields are
never looked at, so they cannot change a result. Every accessor returns None (or an empty value)
for a missing or oddly typed field instead of raising.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

EMPTY: Mapping[str, Any] = MappingProxyType({})

# Enough of a message or an output to classify and to show; the rest is noise for a signature.
MESSAGE_LIMIT = 500
OUTPUT_TAIL = 2000


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    type: str
    name: str | None
    payload: Mapping[str, Any]
    parent_seq: int | None


def read_event(raw: object) -> Event | None:
    """The detector view of one raw event, or None when it has no integer `seq`."""
    fields = mapping_of(raw)
    if fields is None:
        return None
    seq = int_of(fields.get("seq"))
    if seq is None:
        return None
    return Event(
        seq=seq,
        type=str_of(fields.get("type")) or "",
        name=str_of(fields.get("name")),
        payload=mapping_of(fields.get("payload")) or EMPTY,
        parent_seq=int_of(fields.get("parent_seq")),
    )


def int_of(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def str_of(value: object) -> str | None:
    return value if isinstance(value, str) else None


def mapping_of(value: object) -> Mapping[str, Any] | None:
    if type(value) is dict:  # the common case, without the slower ABC check
        return value
    return value if isinstance(value, Mapping) else None


def list_of(value: object) -> list[Any] | tuple[Any, ...] | None:
    return value if isinstance(value, list | tuple) else None


def scalar_text(value: object) -> str | None:
    """A string for str/int values (codes arrive as either), else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def http_status(value: object) -> int | None:
    """An HTTP-like status (100..599) from an int or a string of digits."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit() and len(value.strip()) == 3:
        number = int(value.strip())
    if number is not None and 100 <= number <= 599:
        return number
    return None


def shorten(text: str, limit: int = MESSAGE_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit]


def last_line(text: str) -> str:
    """The last non-blank line of `text`, looking only at its tail."""
    for line in reversed(text[-OUTPUT_TAIL:].splitlines()):
        if line.strip():
            return line.strip()
    return ""


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    type: str | None
    message: str | None
    code: str | None
    status: int | None
    stack: str | None


def error_info(value: object) -> ErrorInfo | None:
    """An `error` field: an object `{type?, message?, code?, status?, stack?}` or a bare string."""
    if isinstance(value, str):
        return ErrorInfo(None, value, None, None, None) if value.strip() else None
    error = mapping_of(value)
    if not error:
        return None
    code = error.get("code")
    status = None
    for key in ("status", "status_code", "http_status", "statusCode"):
        status = http_status(error.get(key))
        if status is not None:
            break
    if status is None:
        status = http_status(code)
    return ErrorInfo(
        type=str_of(error.get("type")) or str_of(error.get("name")),
        message=str_of(error.get("message")) or str_of(error.get("detail")),
        code=scalar_text(code),
        status=status,
        stack=str_of(error.get("stack")) or str_of(error.get("traceback")),
    )
