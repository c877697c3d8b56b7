"""Canonical JSON and the input digest: the byte-level contract of an analysis.

`canonical_json` is the one serialisation used for results and digests: keys sorted, no
insignificant whitespace, UTF-8 kept as is. The input digest is the sha256 of the canonical
JSON array of the events, each restricted to the fields detectors read, fed to the hash one event
at a time so a streamed session never has to be held in memory.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

DIGEST_FIELDS: tuple[str, ...] = ("seq", "type", "name", "payload", "parent_seq")

# Same settings as json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(obj: Any) -> str:
    """Serialise `obj` as canonical JSON (sorted keys, compact separators, non-ASCII kept)."""
    try:
        return _ENCODER.encode(obj)
    except (TypeError, ValueError):
        # Non-dict mappings or non-string keys: convert to plain JSON values, then serialise.
        return _ENCODER.encode(to_jsonable(obj))


def to_jsonable(obj: Any) -> Any:
    """Plain JSON values for `obj`: mappings become dicts with string keys, sequences lists."""
    if obj is None or isinstance(obj, str | bool | int | float):
        return obj
    if isinstance(obj, Mapping):
        return {str(key): to_jsonable(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(item) for item in obj]
    if isinstance(obj, set | frozenset):
        return sorted((to_jsonable(item) for item in obj), key=canonical_json)
    return str(obj)


def digest_view(event: object) -> dict[str, Any]:
    """The part of an event that detectors read; a missing field reads as null."""
    if type(event) is dict or isinstance(event, Mapping):
        return {field: event.get(field) for field in DIGEST_FIELDS}
    return dict.fromkeys(DIGEST_FIELDS)


class InputDigest:
    """sha256 of `canonical_json([digest_view(e) for e in events])`, computed one event at a time."""

    __slots__ = ("_count", "_hash")

    def __init__(self) -> None:
        self._hash = hashlib.sha256(b"[")
        self._count = 0

    def add(self, event: object) -> None:
        chunk = canonical_json(digest_view(event)).encode("utf-8", "surrogatepass")
        if self._count:
            self._hash.update(b",")
        self._hash.update(chunk)
        self._count += 1

    def hexdigest(self) -> str:
        final = self._hash.copy()
        final.update(b"]")
        return final.hexdigest()


def short_hash(obj: Any) -> str:
    """A 16-hex-digit fingerprint of `obj`'s canonical JSON (bounded state for comparisons)."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8", "surrogatepass")).hexdigest()[:16]
