"""Error sites and recoveries: the shared reading of events that the error rules classify.

One pass turns each event into an `Observation`: at most one `ErrorSite` (an event that reports a
failure) and the recovery channels the event clears. A channel names what can recover:

- `tool:<name>`  — a tool; cleared by a later *clean* result of that tool (status ok, no stack
  trace, exit code 0 or absent).
- `llm`          — model calls; cleared by a later llm.response without an error.
- `navigation`   — page loads; cleared by a later successful browser.navigation.
- `browser`      — page interaction; cleared by a successful navigation, or an ok browser.action
  that changed the page (its screenshot/DOM digest differs) or carries no digest.
- `unlinked`, `session`, `log` — never cleared (only the session's success recovers them).

An `error` event joins the channel of its `parent_seq` when that parent is among the last
`PARENT_WINDOW` events; otherwise it is `unlinked`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from api.detectors.events import (
    OUTPUT_TAIL,
    ErrorInfo,
    Event,
    error_info,
    http_status,
    int_of,
    last_line,
    mapping_of,
    scalar_text,
    shorten,
    str_of,
)
from api.detectors.tracebacks import Traceback, find_traceback

PARENT_WINDOW = 4096
FAILED_OUTCOMES = frozenset({"failure", "error"})
_OUTPUT_TEXT_KEYS = ("stderr", "stdout", "output", "result", "error", "traceback", "text")
_EXIT_CODE_KEYS = ("exit_code", "returncode", "exit_status", "exitCode")


class _Reported(Enum):
    AS_REPORTED = "as reported"


# A sentinel rather than None: a field given as None must stay None even where the error object
# carries an empty string for it.
_AS_REPORTED: Final = _Reported.AS_REPORTED


@dataclass(frozen=True, slots=True)
class ErrorSite:
    """An event that reports a failure, with what the rules match on."""

    seq: int
    source: str  # the event type that carried it
    channel: str
    tool: str | None
    failed: bool  # reported as failed (status error, an error object, an error event)
    error_type: str | None
    message: str
    code: str | None
    status: int | None
    exit_code: int | None
    traceback: Traceback | None
    text: str  # what keyword rules search: type, code, message and (for failed tools) the output tail
    url: str | None = None
    selector: str | None = None

    @classmethod
    def reported(
        cls,
        event: Event,
        channel: str,
        error: ErrorInfo | None,
        message: str,
        *,
        error_type: str | None | _Reported = _AS_REPORTED,
        code: str | None | _Reported = _AS_REPORTED,
        status: int | None | _Reported = _AS_REPORTED,
        tool: str | None = None,
        failed: bool = True,
        exit_code: int | None = None,
        traceback: Traceback | None = None,
        detail: str | None = None,
        url: str | None = None,
        selector: str | None = None,
    ) -> ErrorSite:
        """The site `event` reports: `error_type`, `code` and `status` are the error object's unless
        given; `message` stands in when the error object has none; `detail` is searched too."""
        if error_type is _AS_REPORTED:
            error_type = error.type if error else None
        if code is _AS_REPORTED:
            code = error.code if error else None
        if status is _AS_REPORTED:
            status = error.status if error else None
        message = (error.message if error else None) or message
        return cls(
            seq=event.seq,
            source=event.type,
            channel=channel,
            tool=tool,
            failed=failed,
            error_type=error_type,
            message=shorten(message),
            code=code,
            status=status,
            exit_code=exit_code,
            traceback=traceback,
            text=_join(error_type, code, message, detail),
            url=url,
            selector=selector,
        )

    def facts(self) -> dict[str, Any]:
        """The matched facts, for a finding's evidence (absent fields left out)."""
        found: dict[str, Any] = {"source": self.source}
        for key, value in (
            ("tool", self.tool),
            ("error_type", self.error_type),
            ("code", self.code),
            ("status", self.status),
            ("exit_code", self.exit_code),
            ("url", self.url),
            ("selector", self.selector),
        ):
            if value is not None:
                found[key] = value
        if self.message:
            found["message"] = self.message
        return found


@dataclass(frozen=True, slots=True)
class Observation:
    event: Event
    site: ErrorSite | None = None
    recovers: tuple[str, ...] = ()


class SignalExtractor:
    """Reads error sites and recoveries from events in seq order, with bounded state."""

    def __init__(self) -> None:
        self._channels: dict[int, tuple[str, str | None]] = {}  # recent seq -> (channel, tool)
        self._tool_by_call: dict[str, str] = {}  # recent call_id -> tool
        self._page: tuple[str | None, str | None] | None = None

    def observe(self, event: Event) -> Observation:
        kind = event.type
        if kind == "tool.call":
            return self._tool_call(event)
        if kind == "tool.result":
            return self._tool_result(event)
        if kind in ("llm.request", "llm.response"):
            return self._llm(event)
        if kind == "browser.navigation":
            return self._navigation(event)
        if kind == "browser.action":
            return self._browser_action(event)
        if kind == "error":
            return self._error_event(event)
        if kind == "session.end":
            return self._session_end(event)
        return Observation(event)

    # -- per type ---------------------------------------------------------------------------

    def _tool_call(self, event: Event) -> Observation:
        tool = _tool_name(event)
        call_id = str_of(event.payload.get("call_id"))
        if call_id is not None and tool is not None:
            _remember(self._tool_by_call, call_id, tool)
        self._link(event.seq, f"tool:{tool}", tool)
        return Observation(event)

    def _tool_result(self, event: Event) -> Observation:
        payload = event.payload
        tool = _tool_name(event)
        if tool is None:
            tool = self._tool_by_call.get(str_of(payload.get("call_id")) or "")
        channel = f"tool:{tool}"
        self._link(event.seq, channel, tool)
        status = str_of(payload.get("status"))
        error = error_info(payload.get("error"))
        failed = status == "error" or (status != "ok" and error is not None)
        exit_code = _exit_code(payload)
        output_texts = _output_texts(payload.get("output"))
        trace_sources = [*output_texts]
        if error is not None:
            trace_sources += [text for text in (error.stack, error.message) if text]
        traceback = next((t for t in map(find_traceback, trace_sources) if t is not None), None)
        nonzero_exit = exit_code is not None and exit_code != 0
        if not (failed or traceback or nonzero_exit):
            return Observation(event, recovers=(channel,))
        site = ErrorSite.reported(
            event,
            channel,
            error,
            (_traceback_line(traceback) if traceback else None)
            or next((last_line(text) for text in output_texts if last_line(text)), ""),
            error_type=(error.type if error else None) or (traceback.exception_type if traceback else None),
            status=(error.status if error else None) or http_status(payload.get("status_code")),
            tool=tool,
            failed=failed,
            exit_code=exit_code,
            traceback=traceback,
            detail=output_texts[0][-OUTPUT_TAIL:] if failed and output_texts else None,
        )
        return Observation(event, site=site)

    def _llm(self, event: Event) -> Observation:
        self._link(event.seq, "llm", None)
        if event.type == "llm.request":
            return Observation(event)
        payload = event.payload
        error = error_info(payload.get("error"))
        finish = str_of(payload.get("finish_reason"))
        if error is None and finish not in ("error", "model_context_window_exceeded"):
            return Observation(event, recovers=("llm",))
        code = (error.code if error else None) or (finish if finish != "error" else None)
        site = ErrorSite.reported(event, "llm", error, f"finish_reason {finish}", code=code)
        return Observation(event, site=site)

    def _navigation(self, event: Event) -> Observation:
        self._link(event.seq, "navigation", None)
        payload = event.payload
        url = str_of(payload.get("url"))
        status = http_status(payload.get("status_code"))
        error = error_info(payload.get("error"))
        self._page = None
        if error is None and (status is None or status < 400):
            return Observation(event, recovers=("navigation", "browser"))
        site = ErrorSite.reported(
            event,
            "navigation",
            error,
            f"navigation returned HTTP {status}",
            status=status if status is not None and status >= 400 else (error.status if error else None),
            url=url,
        )
        return Observation(event, site=site)

    def _browser_action(self, event: Event) -> Observation:
        self._link(event.seq, "browser", None)
        payload = event.payload
        before, after = self._page, page_digest(payload)
        if after is not None:
            self._page = after
        status = str_of(payload.get("status"))
        error = error_info(payload.get("error"))
        if status == "error" or (status != "ok" and error is not None):
            action = str_of(payload.get("action"))
            site = ErrorSite.reported(
                event,
                "browser",
                error,
                f"browser action {action} failed",
                selector=scalar_text(payload.get("selector")),
            )
            return Observation(event, site=site)
        if after is None or before is None or not same_page(before, after):
            return Observation(event, recovers=("browser",))
        return Observation(event)

    def _error_event(self, event: Event) -> Observation:
        payload = event.payload
        parent = self._channels.get(event.parent_seq) if event.parent_seq is not None else None
        channel, tool = parent if parent is not None else ("unlinked", None)
        status = next(
            (s for key in ("status", "status_code", "code") if (s := http_status(payload.get(key))) is not None), None
        )
        site = ErrorSite.reported(
            event,
            channel,
            None,
            str_of(payload.get("message")) or "",
            error_type=str_of(payload.get("type")),
            code=scalar_text(payload.get("code")),
            status=status,
            tool=tool,
        )
        return Observation(event, site=site)

    def _session_end(self, event: Event) -> Observation:
        payload = event.payload
        if str_of(payload.get("outcome")) not in FAILED_OUTCOMES:
            return Observation(event)
        error = error_info(payload.get("error"))
        reason = str_of(payload.get("reason"))
        if error is None and not reason:
            return Observation(event)
        # Merged here as well, because the reason is searched only when it is not already the message.
        message = (error.message if error else None) or reason or ""
        site = ErrorSite.reported(
            event,
            "session",
            error,
            message,
            code=(error.code if error else None) or (reason if reason and _is_identifier(reason) else None),
            detail=reason if reason != message else None,
        )
        return Observation(event, site=site)

    def _link(self, seq: int, channel: str, tool: str | None) -> None:
        _remember(self._channels, seq, (channel, tool))


def page_digest(payload: Mapping[str, Any]) -> tuple[str | None, str | None] | None:
    """(screenshot digest, DOM digest) of a browser event, or None when it carries neither."""
    screenshot = str_of(payload.get("screenshot_digest"))
    dom = str_of(payload.get("dom_digest"))
    return None if screenshot is None and dom is None else (screenshot, dom)


def same_page(before: tuple[str | None, str | None], after: tuple[str | None, str | None]) -> bool:
    """Unchanged when every digest both sides carry is equal (and they share at least one)."""
    shared = [(b, a) for b, a in zip(before, after, strict=True) if b is not None and a is not None]
    return bool(shared) and all(b == a for b, a in shared)


def _tool_name(event: Event) -> str | None:
    return str_of(event.payload.get("tool")) or event.name


def _exit_code(payload: Mapping[str, Any]) -> int | None:
    code = int_of(payload.get("exit_code"))
    if code is not None:
        return code
    output = mapping_of(payload.get("output"))
    if output is None:
        return None
    for key in _EXIT_CODE_KEYS:
        code = int_of(output.get(key))
        if code is not None:
            return code
    return None


def _output_texts(output: object) -> list[str]:
    if isinstance(output, str):
        return [output] if output else []
    mapping = mapping_of(output)
    if mapping is None:
        return []
    return [text for key in _OUTPUT_TEXT_KEYS if (text := str_of(mapping.get(key)))]


def _traceback_line(traceback: Traceback) -> str | None:
    if traceback.exception_type is None:
        return traceback.message
    if traceback.message:
        return f"{traceback.exception_type}: {traceback.message}"
    return traceback.exception_type


def _join(*parts: str | None) -> str:
    return "\n".join(part for part in parts if part)


def _is_identifier(text: str) -> bool:
    return len(text) <= 64 and text.replace("_", "").replace("-", "").replace(".", "").isalnum()


def _remember(store: dict[Any, Any], key: Any, value: Any) -> None:
    store.pop(key, None)
    store[key] = value
    if len(store) > PARENT_WINDOW:
        del store[next(iter(store))]
