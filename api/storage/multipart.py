"""multipart/form-data read as a stream of parts, each part's bytes as a stream of chunks.

python-multipart's push parser turns each received chunk into callbacks; the callbacks queue
events, and the readers below pull them, so at most one received chunk is in memory at a time
(Starlette's form parser would spool the whole file before the handler saw a byte).
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header

from api.errors import ApiError

_BEGIN, _DATA, _END, _DONE = "begin", "data", "end", "done"


def boundary_of(content_type: str) -> bytes:
    media_type, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if media_type != b"multipart/form-data" or not boundary:
        raise ApiError(400, "multipart/form-data needs a boundary parameter", code="malformed_multipart")
    return boundary


def _malformed(reason: str) -> ApiError:
    return ApiError(400, f"the multipart body is malformed: {reason}", code="malformed_multipart")


@dataclass
class Part:
    name: str
    content_type: str | None
    chunks: AsyncIterator[bytes]  # this part's bytes; consumed (or skipped) before the next part is read


class MultipartReader:
    def __init__(self, body: AsyncIterator[bytes], boundary: bytes) -> None:
        self._body = body
        self._events: deque[tuple[str, bytes]] = deque()
        self._headers: dict[bytes, bytes] = {}
        # Headers of parts whose BEGIN is queued: one received chunk may hold several parts.
        self._part_headers: deque[dict[bytes, bytes]] = deque()
        self._field = b""
        self._value = b""
        try:
            self._parser = MultipartParser(boundary, {
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": lambda data, start, end: self._events.append((_DATA, data[start:end])),
                "on_part_end": lambda: self._events.append((_END, b"")),
                "on_end": lambda: self._events.append((_DONE, b"")),
            })
        except MultipartParseError as exc:
            raise _malformed(str(exc)) from None

    async def parts(self) -> AsyncIterator[Part]:
        while True:
            kind, _ = await self._next()
            if kind == _DONE:
                return
            if kind != _BEGIN:
                raise _malformed("a part has no headers")
            headers = self._part_headers.popleft()
            disposition, options = parse_options_header(headers.get(b"content-disposition"))
            if disposition != b"form-data" or b"name" not in options:
                raise _malformed("a part lacks Content-Disposition: form-data; name=...")
            content_type = headers.get(b"content-type")
            part = Part(options[b"name"].decode("utf-8", "replace"),
                        content_type.decode("latin-1") if content_type is not None else None, self._chunks())
            yield part
            async for _ in part.chunks:  # whatever the consumer left of this part
                pass

    async def _chunks(self) -> AsyncIterator[bytes]:
        while True:
            kind, data = await self._next()
            if kind == _END:
                return
            if data:
                yield data

    async def _next(self) -> tuple[str, bytes]:
        while not self._events:
            chunk = await anext(self._body, None)
            if chunk is None:
                raise _malformed("the body ended before the closing boundary")
            try:
                self._parser.write(chunk)
            except MultipartParseError as exc:
                raise _malformed(str(exc)) from None
        return self._events.popleft()

    def _on_part_begin(self) -> None:
        self._headers = {}

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field = self._value = b""

    def _on_headers_finished(self) -> None:
        self._part_headers.append(self._headers)
        self._events.append((_BEGIN, b""))


async def read_field(part: Part, max_bytes: int) -> str:
    """A small text field's value; 422 past `max_bytes`."""
    value = b""
    async for chunk in part.chunks:
        value += chunk
        if len(value) > max_bytes:
            raise ApiError(422, f"form field {part.name!r} exceeds {max_bytes} bytes", code="validation_error")
    return value.decode("utf-8", "replace")
