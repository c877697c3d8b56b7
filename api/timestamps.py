"""The one timestamp type clients send (event `ts`, `started_at`, `since`/`until`): docs/events.md.

An RFC 3339 date-time string with seconds and an explicit offset, written with a year from 1970
to 9998 and an offset of at most ±15:59 (PostgreSQL's limit). Every such instant converts to UTC
and back to RFC 3339 in Python and PostgreSQL alike, so nothing accepted can fail later or be
stored as a BC date. Numbers (Unix times) are refused: `0` is not a timestamp. Values are
normalised to UTC, so one instant has one spelling.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, WithJsonSchema

TIMESTAMP_PATTERN = (
    r"^(19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"[Tt](([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9])(\.[0-9]{1,9})?([Zz]|[+-](0[0-9]|1[0-5]):[0-5][0-9])$"
)


_TIMESTAMP = re.compile(TIMESTAMP_PATTERN)
DESCRIPTION = "RFC 3339 date-time with an offset; year 1970-9998 as written; offset at most ±15:59"


def _written_as_rfc3339(value: Any) -> Any:
    if isinstance(value, datetime):  # built server-side, not sent by a client
        return value
    if not isinstance(value, str):
        raise ValueError("a timestamp is an RFC 3339 string such as 2026-01-01T12:00:00Z, not a number")
    if not _TIMESTAMP.match(value):
        raise ValueError(f"a timestamp must be {DESCRIPTION}")
    return value


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_written_as_rfc3339),
    AfterValidator(_to_utc),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": TIMESTAMP_PATTERN, "description": DESCRIPTION}),
]
