"""A trace session: typed helpers for every event type, automatic seq and idempotency keys.

Every helper returns at once with the event's seq (or -1 when the buffer was full and the event was
dropped); delivery happens on the tracer's background thread. Payloads are serialised there: do not
mutate an object after passing it in (the hooks copy what they record).
"""

from __future__ import annotations

import contextvars
import traceback
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from agentdeck.delivery import Delivery, SessionState

_current: contextvars.ContextVar[Session | None] = contextvars.ContextVar("agentdeck_session", default=None)

_MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
                ".webm": "video/webm", ".mp4": "video/mp4", ".json": "application/json", ".gz": "application/gzip",
                ".zip": "application/zip", ".txt": "text/plain", ".log": "text/plain"}


def current_session() -> Session | None:
    """The session of the innermost `with tracer.session(...)` in this context (thread or task)."""
    return _current.get()


def error_payload(error: BaseException | dict[str, Any] | str) -> dict[str, Any]:
    """`{type, message, stack?}` from an exception, a dict or a message."""
    if isinstance(error, BaseException):
        stack = "".join(traceback.format_exception(error))
        return {"type": type(error).__name__, "message": str(error) or type(error).__name__, "stack": stack}
    if isinstance(error, str):
        return {"message": error}
    return dict(error)


class Session:
    def __init__(self, delivery: Delivery, trace_id: str, create: dict[str, Any], start: dict[str, Any]) -> None:
        self.id = trace_id
        self._delivery = delivery
        self._state = SessionState(trace_id)
        self._token: contextvars.Token[Session | None] | None = None
        self._ended = False
        delivery.create(self._state, create)
        self.event("session.start", start)

    # --- context management: sync and async ---------------------------------------------------------------

    def __enter__(self) -> Session:
        self._token = _current.set(self)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None
        if not self._ended:
            if exc is None:
                self.end("success")
            elif isinstance(exc, KeyboardInterrupt | GeneratorExit) or type(exc).__name__ == "CancelledError":
                self.end("cancelled", reason=type(exc).__name__)
            else:
                self.end("error", error=exc)

    async def __aenter__(self) -> Session:
        return self.__enter__()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.__exit__(exc_type, exc, tb)

    # --- events -------------------------------------------------------------------------------------------

    def event(self, type: str, payload: dict[str, Any] | None = None, *, name: str | None = None,
              parent_seq: int | None = None) -> int:
        """Any event type (see the server's event schema); the typed helpers below call this."""
        event: dict[str, Any] = {"type": type, "ts": datetime.now(UTC).isoformat(), "payload": payload or {}}
        if name is not None:
            event["name"] = name
        if parent_seq is not None and parent_seq >= 0:
            event["parent_seq"] = parent_seq
        return self._delivery.emit(self._state, event, keep=type == "session.end")

    def llm_request(self, model: str, messages: list[Any] | None = None, **fields: Any) -> int:
        return self.event("llm.request", {"model": model, "messages": messages, **fields}, name=model)

    def llm_response(self, model: str, *, usage: dict[str, int] | None = None, content: Any = None,
                     tool_calls: list[Any] | None = None, error: BaseException | dict[str, Any] | None = None,
                     parent_seq: int | None = None, **fields: Any) -> int:
        payload: dict[str, Any] = {"model": model, "usage": usage or {}, **fields}
        if content is not None:
            payload["content"] = content
        if tool_calls:
            payload["tool_calls"] = tool_calls
        if error is not None:
            payload["error"] = error_payload(error)
        return self.event("llm.response", payload, name=model, parent_seq=parent_seq)

    def tool_call(self, tool: str, arguments: dict[str, Any] | str, **fields: Any) -> int:
        return self.event("tool.call", {"tool": tool, "arguments": arguments, **fields}, name=tool)

    def tool_result(self, tool: str, *, output: Any = None, error: BaseException | dict[str, Any] | str | None = None,
                    parent_seq: int | None = None, **fields: Any) -> int:
        payload: dict[str, Any] = {"tool": tool, "status": "ok" if error is None else "error", **fields}
        if output is not None:
            payload["output"] = output
        if error is not None:
            payload["error"] = error_payload(error)
        return self.event("tool.result", payload, name=tool, parent_seq=parent_seq)

    def browser_action(self, action: str, *, selector: str | None = None, **fields: Any) -> int:
        payload = {"action": action, **fields}
        if selector is not None:
            payload["selector"] = selector
        return self.event("browser.action", payload)

    def browser_navigation(self, url: str, *, status_code: int | None = None, **fields: Any) -> int:
        payload: dict[str, Any] = {"url": url, **fields}
        if status_code is not None:
            payload["status_code"] = status_code
        return self.event("browser.navigation", payload)

    def log(self, message: str, level: str = "info", **fields: Any) -> int:
        return self.event("log", {"level": level, "message": message, **fields})

    def error(self, error: BaseException | str, *, code: str | int | None = None, **fields: Any) -> int:
        payload = {**error_payload(error), **fields}
        if code is not None:
            payload["code"] = code
        return self.event("error", payload)

    def assertion(self, passed: bool, *, expected: Any = None, actual: Any = None, message: str | None = None) -> int:
        payload: dict[str, Any] = {"passed": passed, "expected": expected, "actual": actual}
        if message is not None:
            payload["message"] = message
        return self.event("assertion", payload)

    def custom(self, name: str, payload: dict[str, Any] | None = None) -> int:
        return self.event(f"custom.{name}", payload)

    def artifact(self, data: bytes | str | Path, *, kind: str = "screenshot",
                 content_type: str | None = None) -> Future[dict[str, Any]]:
        """Upload bytes or a file, then record an `artifact` event; the future holds the server's answer."""
        if isinstance(data, str | Path):
            path = Path(data)
            content_type = content_type or _MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
            data = path.read_bytes()
        return self._delivery.artifact(self._state, data, kind, content_type or "application/octet-stream")

    def end(self, outcome: str = "success", *, reason: str | None = None,
            error: BaseException | dict[str, Any] | str | None = None) -> int:
        """`session.end` (success, failure, error or cancelled). Never dropped, whatever the buffer holds."""
        payload: dict[str, Any] = {"outcome": outcome}
        if reason is not None:
            payload["reason"] = reason
        if error is not None:
            payload["error"] = error_payload(error)
        self._ended = True
        return self.event("session.end", payload)
