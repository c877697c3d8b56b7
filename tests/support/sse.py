"""A Server-Sent Events client for tests: a real HTTP stream read with httpx, parsed block by block."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class SseBlock:
    """One blank-line-terminated block: a message, a `retry:` hint, or only comments (heartbeats)."""

    event: str | None = None
    data: str | None = None
    id: str | None = None
    retry: int | None = None
    comments: list[str] = field(default_factory=list)

    @property
    def position(self) -> int:
        assert self.id is not None, f"{self.event} has no id"
        return int(self.id)

    def json(self) -> Any:
        assert self.data is not None
        return json.loads(self.data)


class SseStream:
    """The blocks of one open response, in order; `None` from `next_block` once the server ends it."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()
        self.last_event_id: str | None = None

    async def next_block(self) -> SseBlock | None:
        block = SseBlock()
        started = False
        async for line in self._lines:
            if line == "":
                if started:
                    return block
                continue
            started = True
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                block.comments.append(value)
            elif name == "data":
                block.data = value if block.data is None else f"{block.data}\n{value}"
            elif name == "event":
                block.event = value
            elif name == "id":
                block.id = value
                self.last_event_id = value
            elif name == "retry":
                block.retry = int(value)
        return None

    async def next_message(self) -> SseBlock | None:
        """The next block with an event (skipping heartbeats and retry hints)."""
        while (block := await self.next_block()) is not None:
            if block.event is not None:
                return block
        return None

    async def take(self, count: int) -> list[SseBlock]:
        """Exactly the next `count` messages; fails if the stream ends first."""
        messages: list[SseBlock] = []
        for _ in range(count):
            message = await self.next_message()
            assert message is not None, f"the stream ended after {len(messages)} of {count} messages"
            messages.append(message)
        return messages

    def __aiter__(self) -> AsyncIterator[SseBlock]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[SseBlock]:
        while (message := await self.next_message()) is not None:
            yield message


@asynccontextmanager
async def open_stream(client: httpx.AsyncClient, headers: dict[str, str], *, last_event_id: int | str | None = None,
                      **params: Any) -> AsyncIterator[SseStream]:
    """GET /api/stream; the caller checks `stream.response.status_code` before reading."""
    request_headers = dict(headers)
    if last_event_id is not None:
        request_headers["Last-Event-ID"] = str(last_event_id)
    query = {name: value for name, value in params.items() if value is not None}
    async with client.stream("GET", "/api/stream", headers=request_headers, params=query) as response:
        yield SseStream(response)
