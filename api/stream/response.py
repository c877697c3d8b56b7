"""The SSE response of one stream: it stops on client disconnect, cuts off a client that stopped
reading, and always runs the stream's cleanup (unregistering from the hub)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable

from anyio import CancelScope, create_task_group  # eager: see api/storage/local.py
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

log = logging.getLogger("agentdeck.stream")


class EventStreamResponse(StreamingResponse):
    """text/event-stream over the frames of a StreamSession."""

    def __init__(self, frames: AsyncGenerator[bytes, None], send_timeout: float) -> None:
        super().__init__(frames, media_type="text/event-stream",
                         headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        self._frames = frames
        self._send_timeout = send_timeout
        self._sending_since: float | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        loop = asyncio.get_running_loop()
        async with create_task_group() as group:
            group.start_soon(_cancel_on_disconnect, receive, group.cancel_scope.cancel)
            group.start_soon(self._cut_off_when_stalled, group.cancel_scope.cancel)
            try:
                async for chunk in self._frames:
                    self._sending_since = loop.time()
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    self._sending_since = None
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            finally:
                with CancelScope(shield=True):
                    await self._frames.aclose()
            group.cancel_scope.cancel()

    async def _cut_off_when_stalled(self, cancel: Callable[[], None]) -> None:
        """A send blocked this long means the client reads nothing: close its socket rather than hold
        its buffers (a watchdog, so that sends themselves carry no timer)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._send_timeout / 4)
            if self._sending_since is not None and loop.time() - self._sending_since > self._send_timeout:
                log.warning("stream client accepted nothing for %ss; dropping it", self._send_timeout)
                cancel()
                return


async def _cancel_on_disconnect(receive: Receive, cancel: Callable[[], None]) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    cancel()
