"""A minimal keep-alive HTTP/1.1 client for load generation.

httpx costs about as much CPU per request as the server does, and the load generator shares the
machine's two cores with the server and PostgreSQL; this client writes pre-encoded requests and
reads Content-Length responses, nothing more, so the benchmark measures the server.
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class Http1Connection:
    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self._head = "".join(f"{name}: {value}\r\n" for name, value in {"Host": host, **headers}.items()).encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Http1Connection:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        assert self._writer is not None
        self._writer.close()
        await self._writer.wait_closed()

    async def post_json(self, path: str, body: bytes, content_type: str = "application/json") -> tuple[int, bytes]:
        """POST an already-encoded body (JSON unless told); returns the status and the response body."""
        assert self._reader is not None and self._writer is not None
        self._writer.write(b"POST %s HTTP/1.1\r\n%sContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s"
                           % (path.encode(), self._head, content_type.encode(), len(body), body))
        status = int((await self._reader.readline()).split()[1])
        length = 0
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self._reader.readexactly(length)
